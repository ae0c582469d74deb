-- Claims one digest window, once per (digest, window) across every replica and restart.
--
-- The claim marker is set only if absent; the winner renames the buffer to the window's
-- batch (new alerts start a fresh buffer at once) and queues one delivery job in the same
-- step, so the batch is sent through the outbox with its retries and dead letters. The
-- batch is deleted by the sender once the email went out (the marker then says "sent").
-- Key names come from the prelude (receiver/store/keys.py).
--
-- KEYS[1] the digest's buffer key (routes the call to the prefix's slot in Cluster)
-- ARGV[1] key tag   ARGV[2] digest name   ARGV[3] window end (ms)
-- ARGV[4] claim ttl (ms)   ARGV[5] batch ttl (ms)   ARGV[6] "1" to send an empty digest
-- ARGV[7] the delivery job (Notification JSON)
-- Returns "queued", "claimed" (this window was claimed before) or "empty" (nothing to send).
local name, window = ARGV[2], ARGV[3]
if not redis.call('SET', k_digest_done(name, window), 'queued', 'NX', 'PX', ARGV[4]) then
  return 'claimed'
end
local buffer, batch = k_digest(name), k_digest_batch(name, window)
if redis.call('EXISTS', buffer) == 1 then
  redis.call('RENAME', buffer, batch)
  redis.call('PEXPIRE', batch, ARGV[5])
elseif ARGV[6] ~= '1' then
  return 'empty'
end
redis.call('XADD', k_outbox(), '*', 'job', ARGV[7])
return 'queued'
