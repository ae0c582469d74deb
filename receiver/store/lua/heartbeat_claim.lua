-- Claim a heartbeat's transition (receiver/heartbeat/checker.py), once across replicas:
-- the state moves only from the value the checker decided from (compare and set).
-- Key names come from the prelude (receiver/store/keys.py).
--
-- KEYS[1]  Keys.heartbeat_state
-- ARGV[1]  key tag     ARGV[2] heartbeat name
-- ARGV[3]  the state decided from ("" when none)     ARGV[4] the new state
-- Returns 1 when this call made the move, 0 when another replica did first.
local cur = redis.call('HGET', KEYS[1], ARGV[2]) or ''
if cur ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
return 1
