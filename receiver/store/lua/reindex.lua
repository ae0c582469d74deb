-- Backfill of the secondary indexes for records written before they existed: one chunk of
-- the fingerprint index per call, in lex order, resumable (receiver/store/reindex.py).
--
-- Each record is indexed from what it holds now, atomically, so a chunk cannot undo a
-- concurrent intake; and it is removed from every partition it does not belong to, so a
-- run also repairs indexes left inexact (e.g. by an older replica during an upgrade).
-- A fingerprint whose record is gone is dropped from every index.
--
-- KEYS[1]  the prefix's fingerprint index (Keys.index)
-- ARGV[1]  key tag (read by the prelude)   ARGV[2] index version   ARGV[3] chunk size
-- Returns {done (0|1), fingerprints examined by this call}.
local index, version, chunk = KEYS[1], ARGV[2], tonumber(ARGV[3])
local done_key, cursor_key = k_index_version(), k_reindex_cursor()
if redis.call('GET', done_key) == version then return {1, 0} end
-- SEVERITIES, STATUSES, SEV_*, S_*: the vocabulary prelude (receiver/store/keys.py).

-- The severity stored in the document (Severity.of at intake), else from the labels.
local function severity_of(doc)
  local ok, d = pcall(cjson.decode, doc or '{}')
  if not ok or type(d) ~= 'table' then return SEV_INFO end
  for _, s in ipairs(SEVERITIES) do
    if d.severity == s then return s end
  end
  local label = type(d.labels) == 'table' and d.labels.severity
  label = type(label) == 'string' and string.lower(label) or ''
  if label == SEV_CRITICAL or label == SEV_WARNING then return label end
  return SEV_INFO
end

-- When the current firing episode started here: the newest history entry's time.
local function firing_since(fp, first_received)
  local head = redis.call('LINDEX', k_history(fp), 0)
  local at = head and string.match(head, '"at":(%d+)')
  return tonumber(at or first_received or '0')
end

local after = redis.call('GET', cursor_key)
local start = after and ('(' .. after) or '-'
local fps = redis.call('ZRANGEBYLEX', index, start, '+', 'LIMIT', 0, chunk)
for _, fp in ipairs(fps) do
  local ka = k_alert(fp)
  local cur = redis.call('HMGET', ka, 'status', 'sev', 'doc', 'first_received')
  local status, sev = cur[1], cur[2]
  if status and not sev then
    sev = severity_of(cur[3])
    redis.call('HSET', ka, 'sev', sev)
  end
  if not status then redis.call('ZREM', index, fp) end
  for _, s in ipairs(SEVERITIES) do
    for _, st in ipairs(STATUSES) do
      if st == status and s == sev then
        redis.call('ZADD', k_by_state(st, s), 0, fp)
      else
        redis.call('ZREM', k_by_state(st, s), fp)
      end
    end
    if status == S_FIRING and s == sev then
      redis.call('ZADD', k_firing_since(s), 'NX', firing_since(fp, cur[4]), fp)
    else
      redis.call('ZREM', k_firing_since(s), fp)
    end
  end
end

if #fps < chunk then
  redis.call('SET', done_key, version)
  redis.call('DEL', cursor_key)
  return {1, #fps}
end
redis.call('SET', cursor_key, fps[#fps])
return {0, #fps}
