-- Claim the escalation ladders whose next step is due (receiver/escalation/runner.py).
--
-- A claimed entry's due time moves out by the lease, so no other replica takes it; the
-- claim id on the ladder lets only this claim apply its decision (escalation_apply.lua).
-- A runner that dies in between loses nothing: its entries come due again after the lease.
-- Key names come from the prelude (receiver/store/keys.py).
--
-- KEYS[1]  Keys.escalation_due
-- ARGV[1]  key tag     ARGV[2] now (ms)     ARGV[3] lease (ms)     ARGV[4] claim id
-- ARGV[5]  at most this many
-- Returns JSON [[fp, policy, episode, started, fired, ended, told, status, startsAt, ack,
--                doc]] (false where a field is missing).
local now, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
local out = {}
for _, fp in ipairs(due) do
  local ke = k_escalation(fp)
  redis.call('ZADD', KEYS[1], now + lease, fp)
  redis.call('HSET', ke, 'claim', ARGV[4])
  local e = redis.call('HMGET', ke, 'policy', 'episode', 'started', 'fired', 'ended', 'told')
  local a = redis.call('HMGET', k_alert(fp), 'status', 'startsAt', 'ack', 'doc')
  out[#out + 1] = {fp, e[1], e[2], e[3], e[4], e[5], e[6], a[1], a[2], a[3], a[4]}
end
return cjson.encode(out)
