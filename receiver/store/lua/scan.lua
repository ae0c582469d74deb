-- One step of a list request with label filters (receiver/store/alerts.py): walks a
-- lex-ordered fingerprint set from a cursor, examines at most `n` state records next to
-- the data and returns the matching ones whole. Reads only. `n` is a few hundred, so a
-- call holds Redis about a millisecond.
--
-- KEYS[1]  the set to walk: Keys.index, or one Keys.by_state partition (same hash tag)
-- ARGV[1]  key tag (read by the prelude)
-- ARGV[2]  JSON filter: {status = s | false, severity = s | false, labels = [[name, value]]}
-- ARGV[3]  start: '-' or '(' .. last fingerprint seen     ARGV[4] n: records to examine
-- ARGV[5]  matches wanted: stop at the one that fills the page
-- Returns {examined, exhausted (1 when the set has nothing after the last examined),
--          last fingerprint examined or '', fp1, record1 (HGETALL), fp2, record2, …}.
local flt = cjson.decode(ARGV[2])
local n, want = tonumber(ARGV[4]), tonumber(ARGV[5])

-- A label filter can only match if its name and value appear, quoted, in the document
-- text: a plain find() first, the JSON decode only for the records that pass. Only for
-- text every JSON encoder writes as is (printable ASCII without quotes, backslashes and
-- the characters some encoders escape); other text is decided by the decode alone.
local needles = {}
for _, pair in ipairs(flt.labels) do
  for _, text in ipairs(pair) do
    if not string.find(text, '[^ -~]') and not string.find(text, '["\\/<>&\']') then
      needles[#needles + 1] = '"' .. text .. '"'
    end
  end
end

local function labels_match(doc)
  for _, needle in ipairs(needles) do
    if not string.find(doc, needle, 1, true) then return false end
  end
  local ok, d = pcall(cjson.decode, doc)
  if not ok or type(d) ~= 'table' or type(d.labels) ~= 'table' then return false end
  for _, pair in ipairs(flt.labels) do
    if d.labels[pair[1]] ~= pair[2] then return false end
  end
  return true
end

local function severity_of(sev, doc)
  if sev then return sev end
  local ok, d = pcall(cjson.decode, doc)  -- a record older than `sev` (not yet backfilled)
  return ok and type(d) == 'table' and d.severity or SEV_INFO
end

-- One more than examined: tells whether anything follows.
local fps = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[3], '+', 'LIMIT', 0, n + 1)
local out, found, last, examined = {0, 0, ''}, 0, '', 0
for i = 1, math.min(n, #fps) do
  local fp = fps[i]
  local ka = k_alert(fp)
  local cur = redis.call('HMGET', ka, 'status', 'sev', 'doc')
  local status, doc = cur[1], cur[3] or '{}'
  examined, last = i, fp
  if status and (not flt.status or status == flt.status)
      and (not flt.severity or severity_of(cur[2], doc) == flt.severity)
      and labels_match(doc) then
    out[#out + 1] = fp
    out[#out + 1] = redis.call('HGETALL', ka)
    found = found + 1
    if found == want then break end
  end
end
out[1], out[3] = examined, last
if examined == #fps then out[2] = 1 end
return out
