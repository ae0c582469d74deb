-- Move one dead letter back to the outbox, atomically and at most once: a replay racing
-- another replay of the same entry finds it gone and does nothing.
-- Key names: none are built here; the caller passes them from receiver/store/keys.py.
-- KEYS[1] dead-letter stream (Keys.dead)   KEYS[2] outbox stream (Keys.outbox)
-- ARGV[1] entry id   ARGV[2] job JSON
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
