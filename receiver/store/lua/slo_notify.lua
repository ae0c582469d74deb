-- Claim an SLO's error-budget threshold crossings (receiver/slo/runner.py), once across
-- replicas: a threshold the budget is at or over notifies only if its field is not set
-- yet (HSETNX), and its jobs go to the outbox in the same step; a threshold the budget is
-- back under is forgotten, so that the next crossing notifies again.
-- Key names come from the prelude (receiver/store/keys.py).
--
-- KEYS[1]  Keys.slo_alerted(service)
-- ARGV[1]  key tag     ARGV[2] now (ms)
-- ARGV[3]  JSON {threshold: [job JSON]} for every threshold crossed now ({} if none)
-- Returns JSON [threshold] of the crossings notified by this call.
local now, crossed = tonumber(ARGV[2]), cjson.decode(ARGV[3])
local ka = KEYS[1]
local flat = redis.call('HGETALL', ka)
for i = 1, #flat, 2 do
  if crossed[flat[i]] == nil then redis.call('HDEL', ka, flat[i]) end
end
local out = {}
for t, jobs in pairs(crossed) do
  if redis.call('HSETNX', ka, t, now) == 1 then
    for _, job in ipairs(jobs) do redis.call('XADD', k_outbox(), '*', 'job', job) end
    out[#out + 1] = t
  end
end
return cjson.encode(out)
