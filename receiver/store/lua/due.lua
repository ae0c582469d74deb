-- Move due entries of the delayed set (throttled jobs, retries) to the outbox, atomically,
-- so each runs once whichever replica's scheduler gets here first.
-- Key names: none are built here; the caller passes them from receiver/store/keys.py.
-- KEYS[1] delayed zset (Keys.delayed)   KEYS[2] outbox stream (Keys.outbox)
-- ARGV[1] now (ms)   ARGV[2] max entries
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('XADD', KEYS[2], '*', 'job', job)
end
return #due
