-- Claim the start or the end of a maintenance occurrence, once across replicas and
-- restarts (receiver/maintenance/runner.py). A claim is a lease (the replica's name) that
-- turns into "finished" when its holder finished; a holder that died loses nothing: the lease
-- expires and another replica takes it over (what it did is idempotent: a release
-- re-decides from the notification records). Key names come from the prelude.
--
-- KEYS[1]  Keys.maint_windows (routes the call to the prefix's slot in Cluster)
-- ARGV[1]  key tag     ARGV[2] phase (start | end)     ARGV[3] occurrence id
-- ARGV[4]  replica     ARGV[5] lease (ms)     ARGV[6] how long "done" is kept (ms)
-- ARGV[7]  claim | finish
-- Returns "claimed" | "busy" (another replica holds it) | "finished" (before) for a
-- claim; "finished" | "lost" (the lease is no longer ours) for a finish.
local key = k_maint_claim(ARGV[2], ARGV[3])
local cur = redis.call('GET', key)
local mine, finished = ARGV[4], 'finished'
if ARGV[7] == 'finish' then
  if cur ~= mine then return 'lost' end
  redis.call('SET', key, finished, 'PX', ARGV[6])
  return finished
end
if cur == finished then return finished end
if cur and cur ~= mine then return 'busy' end
redis.call('SET', key, mine, 'PX', ARGV[5])
return 'claimed'
