-- Acknowledge or unacknowledge one alert's current firing episode (receiver/ack/service.py).
--
-- One atomic step: the ack on the state record (`ack`), the `_ack` marker among the
-- notification records with their version bumped (so an intake deciding from a cached copy
-- decides again, with the ack: repeats are suppressed), a history entry, the jobs for the
-- destinations that act on an ack, and the escalation ladder paused, cancelled or resumed.
-- Key names come from the prelude (receiver/store/keys.py).
--
-- KEYS[1]  Keys.alert(fp) (routes the call to the prefix's slot in Cluster)
-- ARGV[1]  key tag     ARGV[2] "ack" | "unack"     ARGV[3] fp     ARGV[4] now (ms)
-- ARGV[5]  the episode the caller built its jobs for (startsAt): anything else is refused
-- ARGV[6]  ack: the ack JSON to store (AckInfo + startsAt); unack: ""
-- ARGV[7]  until_ms of the ack (0: until resolved)
-- ARGV[8]  the history entry JSON     ARGV[9] history_max
-- ARGV[10] JSON [[destination, job JSON, always]]: a job goes out when the destination was
--          told the alert is firing (its notification record), or `always` (the silence)
-- Returns JSON {outcome, ack (the stored ack JSON, if any), startsAt}.
local fp, op, now = ARGV[3], ARGV[2], tonumber(ARGV[4])
local ka, kn, kh = KEYS[1], k_notified(ARGV[3]), k_history(ARGV[3])
local ke, kdue = k_escalation(fp), k_escalation_due()

local cur = redis.call('HMGET', ka, 'status', 'startsAt', 'ack', 'nv')
if not cur[1] then return cjson.encode({outcome = 'not_found'}) end
local episode = cur[2]
if cur[1] ~= S_FIRING then
  return cjson.encode({outcome = 'not_firing', startsAt = episode})
end
if ARGV[5] ~= episode then
  return cjson.encode({outcome = 'other_episode', startsAt = episode})
end

local active = false
if cur[3] then
  local a = cjson.decode(cur[3])
  active = a.startsAt == episode and (tonumber(a.until_ms) == 0 or tonumber(a.until_ms) > now)
end
if op == 'ack' and active then
  return cjson.encode({outcome = 'already_acked', ack = cur[3], startsAt = episode})
end
if op == 'unack' and not active then
  return cjson.encode({outcome = 'not_acked', startsAt = episode})
end

-- The notification records' version: on the state record, else in the records' hash.
local v = tonumber(cur[4] or redis.call('HGET', kn, R_VERSION) or '0') + 1
if op == 'ack' then
  redis.call('HSET', ka, 'ack', ARGV[6], 'nv', v)
  redis.call('HSET', kn, R_ACK, ARGV[7] .. '|' .. episode, R_VERSION, v)
else
  redis.call('HDEL', ka, 'ack')
  redis.call('HSET', ka, 'nv', v)
  redis.call('HDEL', kn, R_ACK)
  redis.call('HSET', kn, R_VERSION, v)
end
local n = redis.call('LPUSH', kh, ARGV[8])
if n > tonumber(ARGV[9]) then redis.call('LTRIM', kh, 0, tonumber(ARGV[9]) - 1) end

for _, j in ipairs(cjson.decode(ARGV[10])) do
  if j[3] then
    -- Told on every ack and unack: its record makes the intake send it the resolve too.
    local status = op == 'ack' and S_FIRING or S_RESOLVED
    redis.call('HSET', kn, j[1], '{"status":"' .. status .. '","starts_at":"' .. episode ..
      '","n":' .. now .. '}')
    redis.call('XADD', k_outbox(), '*', 'job', j[2])
  else
    local rec = redis.call('HGET', kn, j[1])
    if rec and string.find(rec, '"status":"' .. S_FIRING .. '"', 1, true) then
      redis.call('XADD', k_outbox(), '*', 'job', j[2])
    end
  end
end

-- The ladder of this episode, if one is running: an ack without expiry ends it, one with
-- an expiry holds it until then; an unack resumes it where it was.
local esc = redis.call('HMGET', ke, 'episode', 'ended', 'next_due')
if esc[1] == episode then
  if op == 'ack' then
    local until_ms = tonumber(ARGV[7])
    if until_ms == 0 then
      redis.call('ZREM', kdue, fp)
      if esc[2] == '' then redis.call('HSET', ke, 'ended', 'acked') end
    elseif redis.call('ZSCORE', kdue, fp) then
      local due = math.max(tonumber(esc[3]) or now, until_ms)
      redis.call('ZADD', kdue, due, fp)
    end
  elseif esc[2] == 'acked' or esc[2] == '' then
    redis.call('HSET', ke, 'ended', '')
    redis.call('ZADD', kdue, math.max(tonumber(esc[3]) or now, now), fp)
  end
  -- The people the ladder paged (`paged`): their rule chains are looked at now, so an
  -- ack stops them at once (receiver/people/runner.py decides and counts) and an unack
  -- resumes those an ack stopped, where they were.
  for person in string.gmatch(redis.call('HGET', ke, 'paged') or '', '[^,]+') do
    local m, kc = fp .. ':' .. person, k_person_chain(fp, person)
    local c = redis.call('HMGET', kc, 'episode', 'ended')
    if c[1] == episode then
      if op == 'unack' and c[2] == 'acked' then redis.call('HSET', kc, 'ended', '') end
      if redis.call('ZSCORE', k_people_due(), m) or (op == 'unack' and c[2] == 'acked') then
        redis.call('ZADD', k_people_due(), now, m)
      end
    end
  end
end

if op == 'ack' then
  return cjson.encode({outcome = 'acked', ack = ARGV[6], startsAt = episode})
end
return cjson.encode({outcome = 'unacked', startsAt = episode})
