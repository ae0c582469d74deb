-- Release parked jobs of one destination (receiver/delivery/backpressure.py, every tick):
-- closed → up to ARGV[2] of them to the outbox, in order; pause over (half-open) and no
-- probe in flight → the first one alone, to be the probe; still paused → nothing.
-- Key names: none are built here; the caller passes them from receiver/store/keys.py.
-- KEYS[1] circuit hash   KEYS[2] parked zset   KEYS[3] outbox
-- ARGV[1] now (ms)   ARGV[2] batch   ARGV[3] how long a released probe job has to start (ms)
-- Returns the number of jobs moved.
local now = tonumber(ARGV[1])
local st = redis.call('HMGET', KEYS[1], 'until', 'probe', 'woken')
local untl, probe, woken = tonumber(st[1] or '0'), tonumber(st[2] or '0'), tonumber(st[3] or '0')
local n = tonumber(ARGV[2])
if untl > now then return 0 end
if untl > 0 then
  if probe >= now or woken >= now then return 0 end
  redis.call('HSET', KEYS[1], 'woken', now + tonumber(ARGV[3]))
  n = 1
end
local jobs = redis.call('ZPOPMIN', KEYS[2], n)
for i = 1, #jobs, 2 do redis.call('XADD', KEYS[3], '*', 'job', jobs[i]) end
return #jobs / 2
