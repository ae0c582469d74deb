-- One webhook body, one atomic step: alert state, notification records, throttle, outbox.
--
-- KEYS[1]  the prefix's index key; only routes the script to the prefix's slot in Cluster
--          (every key below carries the same hash tag, ARGV[1]).
-- ARGV[1]  key tag, e.g. "{ar}"          ARGV[2]  now (ms)
-- ARGV[3]  request JSON built by receiver/pipeline/intake.py:
--   alerts: [{fp, v, status, startsAt, endsAt, doc, sig, notif: {dest: record}}]
--     doc: the descriptive fields as one JSON string; sig: its signature
--   routed: [{route, fp, storm: [threshold, window_ms] | false,
--             jobs: [{dest, mode, rate: [interval_ms, burst] | false, job}]}]
--     mode: "send" (throttled, delayed when over), "soft" (over limit → digest if `digest`,
--     else delayed), "digest" (straight to the digest buffer), "resolve" (never summarised)
--   retention_ms, history_max, grace_ms, bucket_ttl_ms
-- Returns JSON: {conflict = {fp = record hash}} when the caller decided from notification
-- records older than the stored ones (versions differ): nothing is written, and the caller
-- decides again from the records returned. Else counts per alert kind and per action.
local P, now = ARGV[1], tonumber(ARGV[2])
local req = cjson.decode(ARGV[3])

local outdated = nil
for _, a in ipairs(req.alerts) do
  local kn = P .. ':notif:' .. a.fp
  if (redis.call('HGET', kn, '_v') or '0') ~= a.v then
    local flat, rec = redis.call('HGETALL', kn), {}
    for i = 1, #flat, 2 do rec[flat[i]] = flat[i + 1] end
    outdated = outdated or {}
    outdated[a.fp] = rec
  end
end
if outdated then return cjson.encode({conflict = outdated}) end

local kinds = {new = 0, changed = 0, unchanged = 0, stale = 0}
for _, a in ipairs(req.alerts) do
  local ka, kh, kn, kd = P .. ':alert:' .. a.fp, P .. ':hist:' .. a.fp,
    P .. ':notif:' .. a.fp, P .. ':delivery:' .. a.fp
  local cur = redis.call('HMGET', ka, 'status', 'startsAt', 'endsAt', 'sig')
  local kind
  if not cur[1] then
    kind = 'new'
  elseif cur[1] == 'resolved' and a.status == 'firing' and cur[2] == a.startsAt then
    -- A retried or replayed firing body arriving after its own resolve: Alertmanager gives
    -- a re-fire a new startsAt, so this one is old news and must not reopen the alert.
    kind = 'stale'
  elseif cur[1] ~= a.status or cur[2] ~= a.startsAt or cur[3] ~= a.endsAt then
    kind = 'changed'
  elseif cur[4] ~= a.sig then
    kind = 'changed'  -- same state, new content (annotations, generatorURL, receiver)
  else
    kind = 'unchanged'
  end
  kinds[kind] = kinds[kind] + 1
  -- An unchanged alert (repeats, HA copies) only bumps its counters: less AOF to write.
  if kind == 'new' or kind == 'changed' then
    redis.call('HSET', ka, 'status', a.status, 'startsAt', a.startsAt, 'endsAt', a.endsAt,
      'doc', a.doc, 'sig', a.sig)
    redis.call('HSETNX', ka, 'first_received', now)
    if kind == 'new' or cur[1] ~= a.status or cur[2] ~= a.startsAt then
      redis.call('LPUSH', kh, cjson.encode({at = now, status = a.status,
        startsAt = a.startsAt, endsAt = a.endsAt}))
      redis.call('LTRIM', kh, 0, req.history_max - 1)
    end
  end
  redis.call('HSET', ka, 'last_received', now)
  redis.call('HINCRBY', ka, 'receive_count', 1)
  local changed_notif = false
  for dest, record in pairs(a.notif) do
    redis.call('HSET', kn, dest, record)
    changed_notif = true
  end
  if changed_notif then redis.call('HINCRBY', kn, '_v', 1) end
  -- Index and expiry follow the stored status, so they only move when it was written.
  if kind == 'new' or kind == 'changed' then
    redis.call('ZADD', KEYS[1], 0, a.fp)
    if a.status == 'resolved' then
      -- Resolved records stay readable for the retention, then expire with their history.
      for _, k in ipairs({ka, kh, kn, kd}) do redis.call('PEXPIRE', k, req.retention_ms) end
      redis.call('ZADD', P .. ':idx:expiry', now + req.retention_ms, a.fp)
    else
      for _, k in ipairs({ka, kh, kn, kd}) do redis.call('PERSIST', k) end
      redis.call('ZREM', P .. ':idx:expiry', a.fp)
    end
  end
end

-- Forget index entries of records that have expired.
local gone = redis.call('ZRANGEBYSCORE', P .. ':idx:expiry', '-inf', now, 'LIMIT', 0, 100)
for _, fp in ipairs(gone) do
  redis.call('ZREM', KEYS[1], fp)
  redis.call('ZREM', P .. ':idx:expiry', fp)
end

-- GCRA: the bucket key holds the theoretical arrival time (tat). Returns the time the
-- request may go (now when within the burst) and the tat to store if it is taken.
local function slot(dest, rate)
  local tat = tonumber(redis.call('GET', P .. ':tb:' .. dest) or '0')
  if tat < now then tat = now end
  local at = tat - (rate[2] - 1) * rate[1]
  if at < now then at = now end
  return at, tat + rate[1]
end

local actions = {}
local function count(dest, action)
  actions[dest] = actions[dest] or {immediate = 0, delayed = 0, digest = 0, summary = 0}
  actions[dest][action] = actions[dest][action] + 1
end

local outbox, delayed = P .. ':outbox', P .. ':delayed'
for _, r in ipairs(req.routed) do
  local in_storm = false
  if r.storm then
    local ws = now - (now % r.storm[2])
    local kc = P .. ':storm:' .. r.route .. ':' .. ws
    local n = redis.call('INCR', kc)
    if n == 1 then redis.call('PEXPIRE', kc, r.storm[2] + req.grace_ms) end
    if n > r.storm[1] then
      in_storm = P .. ':stormbuf:' .. r.route .. ':' .. ws
      redis.call('PEXPIRE', in_storm, r.storm[2] + req.grace_ms)
      redis.call('ZADD', P .. ':storm:due', 'NX', ws + r.storm[2], r.route .. '|' .. ws)
    end
  end
  for _, j in ipairs(r.jobs) do
    if j.mode == 'digest' then
      redis.call('RPUSH', P .. ':digest:' .. j.digest, j.job)
      count(j.dest, 'digest')
    elseif in_storm and j.mode == 'soft' then
      -- Only warnings/info fold into a summary: criticals and resolves always go alone.
      redis.call('RPUSH', in_storm, j.job)
      count(j.dest, 'summary')
    else
      local at, tat = now, nil
      if j.rate then at, tat = slot(j.dest, j.rate) end
      if at <= now then
        if tat then redis.call('SET', P .. ':tb:' .. j.dest, tat, 'PX', req.bucket_ttl_ms) end
        redis.call('XADD', outbox, '*', 'job', j.job)
        count(j.dest, 'immediate')
      elseif j.mode == 'soft' and j.digest then
        redis.call('RPUSH', P .. ':digest:' .. j.digest, j.job)
        count(j.dest, 'digest')
      else
        -- Reserve the next free slot: later jobs queue behind, so order is kept.
        redis.call('SET', P .. ':tb:' .. j.dest, tat, 'PX', req.bucket_ttl_ms)
        redis.call('ZADD', delayed, at, j.job)
        count(j.dest, 'delayed')
      end
    end
  end
end

return cjson.encode({kinds = kinds, actions = actions})
