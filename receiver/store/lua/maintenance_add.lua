-- Store one run-time maintenance window (receiver/maintenance/store.py), unless there are
-- already `cap` of them (ended ones are pruned by the runner).
--
-- KEYS[1]  Keys.maint_windows
-- ARGV[1]  window id     ARGV[2] its JSON     ARGV[3] cap
-- Returns 1 when stored, 0 when the cap is reached (nothing stored).
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
