-- Add one on-call override to a rotation's hash (KEYS[1]: id -> record JSON), atomically:
-- prune the expired ones, refuse beyond the cap, store, and let the hash expire with its
-- last override (nothing lives forever). A stored add also replaces the rotation's version
-- token (KEYS[2]), which expires with the hash but not before 2 hours from now (so no
-- cached calendar feed can take a later token for this one).
-- Key names: none are built here; the caller passes KEYS[1] (Keys.oncall_overrides) and
-- KEYS[2] (Keys.oncall_version).
-- ARGV: now_ms, cap, id, record JSON, until_ms, version token. Returns the live count
-- after, or -1 (cap).
local now = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local live, last = 0, tonumber(ARGV[5])
for i = 1, #all, 2 do
  local ok, rec = pcall(cjson.decode, all[i + 1])
  local ends = 0
  if ok and type(rec) == 'table' then ends = tonumber(rec['until']) or 0 end
  if ends <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    live = live + 1
    if ends > last then last = ends end
  end
end
if live >= cap then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIREAT', KEYS[1], last)
redis.call('SET', KEYS[2], ARGV[6])
redis.call('PEXPIREAT', KEYS[2], math.max(last, now + 7200000))
return live + 1
