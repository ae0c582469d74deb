-- May a job for this destination be sent now? (receiver/delivery/backpressure.py)
-- Called only when the worker's view of the destination is not plainly closed.
-- Paused (until in the future): the job is parked. Half-open (the pause is over): one job
-- at a time is let through as the probe. Closed but jobs still parked: parked too when any
-- of them goes first, so the order holds while they are released.
-- Key names: none are built here; the caller passes them from receiver/store/keys.py.
-- KEYS[1] circuit hash   KEYS[2] parked zset   KEYS[3] outbox
-- ARGV[1] now (ms)   ARGV[2] job JSON   ARGV[3] park score   ARGV[4] probe lease (ms)
-- ARGV[5] group   ARGV[6] entry id
-- Returns 'send', 'probe', 'parked' or 'gone' (the entry was settled elsewhere).
local now = tonumber(ARGV[1])
local st = redis.call('HMGET', KEYS[1], 'until', 'probe')
local untl, probe = tonumber(st[1] or '0'), tonumber(st[2] or '0')
local verdict = 'send'
if untl > now then
  verdict = 'parked'
elseif untl > 0 then
  if probe < now then
    redis.call('HSET', KEYS[1], 'probe', now + tonumber(ARGV[4]))
    return 'probe'
  end
  verdict = 'parked'
else
  -- Closed, parked jobs being released: wait only behind those that go first (a job just
  -- released is the head; a new critical goes before parked warnings).
  local head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if #head == 2 and tonumber(head[2]) < tonumber(ARGV[3]) then verdict = 'parked' end
end
if verdict == 'send' then return 'send' end
if #redis.call('XPENDING', KEYS[3], ARGV[5], ARGV[6], ARGV[6], 1) == 0 then return 'gone' end
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[2])
redis.call('XACK', KEYS[3], ARGV[5], ARGV[6])
redis.call('XDEL', KEYS[3], ARGV[6])
return 'parked'
