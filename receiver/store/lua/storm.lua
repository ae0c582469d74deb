-- Close storm windows that are due: one summary job per destination on the outbox.
-- Key names: k_storm_buffer(route, ws) comes from the prelude receiver/store/scripts.py
-- puts in front of this file, generated from receiver/store/keys.py over ARGV[1].
-- KEYS[1] storm due zset (Keys.storm_due)   KEYS[2] outbox stream (Keys.outbox)
-- ARGV[1] key tag (read by the prelude)   ARGV[2] now (ms)
-- ARGV[3] alerts listed per summary
local now, keep = tonumber(ARGV[2]), tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 10)
local made = 0
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local route, ws = string.match(member, '^(.*)|(%d+)$')
  local buf = k_storm_buffer(route, ws)
  local per, order = {}, {}
  for _, raw in ipairs(redis.call('LRANGE', buf, 0, -1)) do
    local j = cjson.decode(raw)
    local d = j.destination
    if not per[d] then per[d] = {n = 0, alerts = {}, first = j}; order[#order + 1] = d end
    per[d].n = per[d].n + 1
    if #per[d].alerts < keep then per[d].alerts[#per[d].alerts + 1] = j.alert end
  end
  for _, d in ipairs(order) do
    local s = per[d].first
    -- The summary's Notification.key (delivery idempotency, PagerDuty dedup), not a Redis key.
    s.key = 'storm:' .. route .. ':' .. ws .. ':' .. d
    s.summary_of, s.summary_total, s.enqueued_at_ms = per[d].alerts, per[d].n, now
    redis.call('XADD', KEYS[2], '*', 'job', cjson.encode(s))
    made = made + 1
  end
  redis.call('DEL', buf)
end
return made
