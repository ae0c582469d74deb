-- Claim the people's rule chains whose next rule is due (receiver/people/runner.py).
--
-- As escalation_claim.lua: a claimed entry's due time moves out by the lease, so no other
-- replica takes it; the claim id on the chain lets only this claim apply its decision
-- (people_apply.lua). A runner that dies in between loses nothing: the entry comes due
-- again after the lease. Key names come from the prelude (receiver/store/keys.py).
--
-- KEYS[1]  Keys.people_due
-- ARGV[1]  key tag     ARGV[2] now (ms)     ARGV[3] lease (ms)     ARGV[4] claim id
-- ARGV[5]  at most this many
-- Returns JSON [[member ("fp:person"), episode, started, fired, used, ended, status,
--                startsAt, ack, doc]] (false where a field is missing).
local now, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
local out = {}
for _, m in ipairs(due) do
  local fp, person = string.match(m, '^([^:]+):(.+)$')
  if fp then
    local kc = k_person_chain(fp, person)
    redis.call('ZADD', KEYS[1], now + lease, m)
    redis.call('HSET', kc, 'claim', ARGV[4])
    local c = redis.call('HMGET', kc, 'episode', 'started', 'fired', 'used', 'ended')
    local a = redis.call('HMGET', k_alert(fp), 'status', 'startsAt', 'ack', 'doc')
    out[#out + 1] = {m, c[1], c[2], c[3], c[4], c[5], a[1], a[2], a[3], a[4]}
  else
    redis.call('ZREM', KEYS[1], m)
  end
end
return cjson.encode(out)
