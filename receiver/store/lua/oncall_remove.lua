-- Remove one on-call override (KEYS[1]: the rotation's hash, id -> record JSON) and, if
-- there was one, replace the rotation's version token (KEYS[2]) in the same step, expiring
-- with the hash but not before 2 hours from now (see oncall_overrides.lua).
-- Key names: none are built here; the caller passes KEYS[1] (Keys.oncall_overrides) and
-- KEYS[2] (Keys.oncall_version).
-- ARGV: id, version token, now_ms. Returns 1 (removed) or 0 (no such override).
local now = tonumber(ARGV[3])
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed == 1 then
  local left = redis.call('PTTL', KEYS[1])
  local at = now + 7200000
  if left > 0 and now + left > at then at = now + left end
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('PEXPIREAT', KEYS[2], at)
end
return removed
