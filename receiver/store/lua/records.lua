-- Read, for many delivery jobs at once, each job's decision record and the notifier state
-- of its earlier sends: one reply instead of two pipelined HGETs per job (redis-py spent
-- more CPU packing and parsing those than Redis spent answering them).
-- Key names: none are built here; the caller passes them from receiver/store/keys.py.
-- KEYS[2i-1] notified(fp_i)   KEYS[2i] delivery(fp_i)   ARGV[i] destination_i
-- Returns, flat, per job: the decision record, the state JSON (each false when absent).
local out = {}
for i = 1, #ARGV do
  out[2 * i - 1] = redis.call('HGET', KEYS[2 * i - 1], ARGV[i])
  out[2 * i] = redis.call('HGET', KEYS[2 * i], ARGV[i])
end
return out
