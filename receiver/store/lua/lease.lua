-- Renew this consumer's claim on the outbox entries it is still working on (resets their
-- idle time), so other replicas reclaim only the entries of a consumer that stopped.
-- An entry another consumer has taken over (or that is settled) is not touched.
-- Key names: none are built here; the caller passes them from receiver/store/keys.py.
-- KEYS[1] outbox   ARGV[1] group   ARGV[2] consumer   ARGV[3..] entry ids
-- Returns the ids this consumer no longer holds.
local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 1 and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
