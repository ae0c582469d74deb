-- Webhook bodies → alert state, notification records, throttle, storm and outbox.
--
-- One call carries the bodies of the requests in flight (receiver/store/batch.py); each
-- body is applied in order, as if it had been a call of its own, and gets its own result.
-- An error (a write refused by a demoted master, out of memory) fails the whole call, so
-- that the client sees it as a Redis error; every caller answers 503 and Alertmanager
-- retries. That is safe for bodies applied before the error: a re-sent body is recognised
-- as a duplicate and notifies no one twice.
--
-- Key names: k_alert(fp), k_outbox(), … are defined by the prelude that
-- receiver/store/scripts.py puts in front of this file, generated from
-- receiver/store/keys.py (TEMPLATES) over the key tag ARGV[1]. Spell no key name here.
-- Statuses, severities and record markers (S_FIRING, SEVERITIES, R_VERSION, …) come from
-- the vocabulary prelude in front of it (keys.py `vocabulary_prelude()`), likewise.
--
-- KEYS[1]  the prefix's index key (Keys.index); also routes the call to the prefix's slot
--          in Cluster (every key below carries the same hash tag, ARGV[1]).
-- ARGV[1]  key tag, e.g. "{ar}" (read by the prelude)     ARGV[2] retention_ms
-- ARGV[3]  history_max
-- ARGV[4]  grace_ms                 ARGV[5] bucket_ttl_ms
-- ARGV[6]  JSON array of bodies, built by receiver/pipeline/intake.py, each:
--   now: ms; alerts: [{fp, v, status, sev, startsAt, endsAt, doc, notif: {dest: record},
--                      esc: [policy, first step after ms] (firing alerts of a route with one),
--                      slo: [service] (alerts matching SLO services), t0 / t1: the alert's
--                      startsAt / endsAt in ms (firing / resolved alerts with slo),
--                      hb: [heartbeat] (firing alerts matching heartbeats),
--                      mnt: [occurrence, marker, ttl_ms] (in a maintenance window: kept in
--                      the occurrence's muted set, the marker on the state record),
--                      rel: occurrence (released at its end: out of its muted set, the
--                      state record untouched but for the marker and `nv`)}]
--     doc: the descriptive fields as one JSON string (rewritten only when it changed)
--     sev: the alert's severity (critical | warning | info), for the secondary indexes
--   routed: [{route, storm: [threshold, window_ms] | false,
--             jobs: [{dest, mode, rate: [interval_ms, burst] | false, digest, job,
--                     fp, dmax, dttl}]}]
--     rel: the fingerprint of a released alert whose job this is (dropped with it when
--     another release told it first: see `gone` in intake()).
--     mode: "send" (throttled, delayed when over), "soft" (over limit → left to the route's
--     digest if `digest`, else delayed), "digest" (into the digest buffer), "resolve"
--     (never summarised). A "digest" entry carries the alert's fp and the digest's
--     max_alerts and buffer ttl (ms), and no `job` (the digest reads the alert when sent).
-- Returns a JSON array, one result per body, in order:
--   {conflict = {fp = record hash}}  the caller decided from notification records older
--       than the stored ones (versions differ): nothing was written for this body; the
--       caller decides again from the records returned.
--   {kinds = {...}, actions = {dest = {...}}}  applied.
local retention, history_max = tonumber(ARGV[2]), tonumber(ARGV[3])
local grace, bucket_ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local index, expiry = KEYS[1], k_expiry()
local outbox, delayed = k_outbox(), k_delayed()

-- Reads each alert's state record (kept on the alert for record()) and returns the
-- notification records of the alerts whose records changed since the caller read them.
-- Their version is kept twice: `_v` in the records' hash, and `nv` on the state record so
-- that one read serves both (a record written before `nv` existed is asked the long way).
local function outdated(alerts)
  local found = nil
  for _, a in ipairs(alerts) do
    a.ka, a.kn = k_alert(a.fp), k_notified(a.fp)
    a.cur = redis.call('HMGET', a.ka, 'status', 'startsAt', 'endsAt', 'doc', 'receive_count',
      'nv', 'sev', 'slo', 'maint')
    local v = '0'  -- no state record: the records expired with it (or never were)
    if a.cur[1] then v = a.cur[6] or redis.call('HGET', a.kn, R_VERSION) or '0' end
    if v ~= a.v then
      local flat, rec = redis.call('HGETALL', a.kn), {}
      for i = 1, #flat, 2 do rec[flat[i]] = flat[i + 1] end
      rec[R_VERSION] = v
      found = found or {}
      found[a.fp] = rec
    end
  end
  return found
end

-- Sorted-set index writes of one body, grouped by key: one ZADD / ZREM per key and body
-- instead of one per alert (a redis.call is the costly part of this script). Safe to
-- defer to the body's end: an alert appears once per body, and no alert is both removed
-- from and added to the same key in one body.
local zadds, zrems = {}, {}
local function zadd(key, score, member)
  local t = zadds[key] or {}
  zadds[key] = t
  t[#t + 1] = score
  t[#t + 1] = member
end
local function zrem(key, member)
  local t = zrems[key] or {}
  zrems[key] = t
  t[#t + 1] = member
end
local function flush_index_writes()
  for key, t in pairs(zrems) do
    for i = 1, #t, 4000 do redis.call('ZREM', key, unpack(t, i, math.min(i + 3999, #t))) end
  end
  for key, t in pairs(zadds) do
    for i = 1, #t, 4000 do redis.call('ZADD', key, unpack(t, i, math.min(i + 3999, #t))) end
  end
  zadds, zrems = {}, {}
end

-- Secondary indexes (receiver/store/reindex.py backfills them for older records): the
-- status x severity partitions (lex order, for the fingerprint cursor) and, per severity,
-- firing alerts scored by when their episode started here. Called only when the stored
-- status, episode or severity may have changed. `was`/`old_sev`: as stored before.
local function reindex(a, now, was, old_sev, moved)
  local sev = a.sev
  if was ~= a.status or old_sev ~= sev then
    if was then
      zrem(k_by_state(was, old_sev), a.fp)
      if was == S_FIRING then zrem(k_firing_since(old_sev), a.fp) end
    end
    zadd(k_by_state(a.status, sev), 0, a.fp)
  end
  if a.status == S_FIRING and (moved or was ~= S_FIRING or old_sev ~= sev) then
    zadd(k_firing_since(sev), now, a.fp)
  end
end

-- An escalation ladder for the alert's firing episode, unless it has one: state hash and
-- its first step's due time (receiver/escalation runs it). a.esc = {policy, first_ms}.
local function ladder(a, now)
  local ke = k_escalation(a.fp)
  if redis.call('HGET', ke, 'episode') == a.startsAt then return end
  redis.call('DEL', ke)
  local due = now + a.esc[2]
  redis.call('HSET', ke, 'policy', a.esc[1], 'episode', a.startsAt, 'started', now,
    'fired', 0, 'next_due', due, 'ended', '')
  redis.call('ZADD', k_escalation_due(), due, a.fp)
end

-- SLO downtime intervals, written only when the alert's status moves: a firing episode
-- opens one in each of its services (kept on the state record as `slo`, so the resolve
-- closes exactly those, whatever the config says by then); the resolve closes them.
-- Start and end are the alert's own times (Alertmanager's), never later than now.
local function slo_open(a, now, fields)
  local start = math.min(tonumber(a.t0) or now, now)
  for _, s in ipairs(a.slo) do redis.call('HSETNX', k_slo_open(s), a.fp, start) end
  fields[#fields + 1] = 'slo'
  fields[#fields + 1] = table.concat(a.slo, ',')
end

local function slo_close(a, now, services)
  local stop = math.min(tonumber(a.t1) or now, now)
  for s in string.gmatch(services, '[^,]+') do
    local ko = k_slo_open(s)
    local start = redis.call('HGET', ko, a.fp)
    if start then
      redis.call('HDEL', ko, a.fp)
      start = tonumber(start)
      local stop_s = math.max(stop, start)
      redis.call('ZADD', k_slo_closed(s), stop_s, start .. '|' .. stop_s .. '|' .. a.fp)
    end
  end
  redis.call('HDEL', a.ka, 'slo')
end

-- Maintenance windows (receiver/maintenance): an alert decided in an occurrence is kept in
-- its muted set (read by the end claim, which releases those still firing) and carries
-- the marker; one no longer in a window loses the marker, and leaves the muted set when
-- it is notified meanwhile (the window ended and the alert came again before the release:
-- it was told now, the release must not tell it again). A release leaves the set.
local function maintenance(a, fields)
  if a.mnt then
    local km = k_maint_muted(a.mnt[1])
    redis.call('HSET', km, a.fp, a.startsAt)
    redis.call('PEXPIRE', km, a.mnt[3])
    if a.cur[9] ~= a.mnt[2] then
      fields[#fields + 1] = 'maint'
      fields[#fields + 1] = a.mnt[2]
    end
    return
  end
  if a.rel then redis.call('HDEL', k_maint_muted(a.rel), a.fp) end
  local marker = a.cur[9]
  if not marker then return end
  redis.call('HDEL', a.ka, 'maint')
  if a.status == S_FIRING and next(a.notif) then
    redis.call('HDEL', k_maint_muted(string.match(marker, '^([^;]+);')), a.fp)
  end
end

-- Alert state: a few commands per alert, fewest for the commonest case (a re-send).
local function record(a, now, kinds, seen)
  local ka, cur = a.ka, a.cur
  local was, kind = cur[1], 'unchanged'
  if not was then
    kind = 'new'
  elseif was == S_RESOLVED and a.status == S_FIRING and cur[2] == a.startsAt then
    -- A retried or replayed firing body arriving after its own resolve: Alertmanager gives
    -- a re-fire a new startsAt, so this one is old news and must not reopen the alert.
    kind = 'stale'
  elseif was ~= a.status or cur[2] ~= a.startsAt or cur[3] ~= a.endsAt or cur[4] ~= a.doc then
    kind = 'changed'  -- new state, or same state with new content (annotations, URLs)
  end
  kinds[kind] = kinds[kind] + 1
  local fields
  if kind == 'new' then
    fields = {'status', a.status, 'startsAt', a.startsAt, 'endsAt', a.endsAt, 'doc', a.doc,
      'sev', a.sev, 'first_received', now, 'last_received', now, 'receive_count', 1}
  elseif kind == 'changed' then
    fields = {'status', a.status, 'startsAt', a.startsAt, 'endsAt', a.endsAt, 'doc', a.doc,
      'sev', a.sev, 'last_received', now, 'receive_count', (tonumber(cur[5]) or 0) + 1}
  else
    -- Unchanged or stale (repeats, HA copies): only the counters move.
    fields = {'last_received', now, 'receive_count', (tonumber(cur[5]) or 0) + 1}
  end
  if a.rel then fields = {} end  -- a release changes no state, only the records
  if next(a.notif) then
    local nv = tonumber(a.v) + 1  -- a.v is the stored version (checked by outdated())
    local args = {}
    for dest, rec in pairs(a.notif) do
      args[#args + 1] = dest
      args[#args + 1] = rec
    end
    args[#args + 1] = R_VERSION
    args[#args + 1] = nv
    redis.call('HSET', a.kn, unpack(args))
    fields[#fields + 1] = 'nv'
    fields[#fields + 1] = nv
  end
  local moved = kind == 'new' or (kind == 'changed' and (was ~= a.status or cur[2] ~= a.startsAt))
  if moved and a.slo and a.status == S_FIRING then slo_open(a, now, fields) end
  maintenance(a, fields)
  if #fields > 0 then redis.call('HSET', ka, unpack(fields)) end
  if moved and cur[8] and a.status == S_RESOLVED then slo_close(a, now, cur[8]) end
  if a.hb and a.status == S_FIRING and kind ~= 'stale' then
    for _, name in ipairs(a.hb) do seen[name] = now end
  end
  local kh = k_history(a.fp)
  if moved then
    -- Times are validated RFC 3339 and status an enum: no JSON escaping is needed.
    local n = redis.call('LPUSH', kh, '{"at":' .. now .. ',"status":"' .. a.status ..
      '","startsAt":"' .. a.startsAt .. '","endsAt":"' .. a.endsAt .. '"}')
    if n > history_max then redis.call('LTRIM', kh, 0, history_max - 1) end
  end
  -- Indexes and expiry follow the stored status, so they only move when it was written.
  if kind == 'new' then
    zadd(index, 0, a.fp)
    reindex(a, now, nil, nil, true)
  elseif kind == 'changed' then
    -- A record older than `sev` is indexed under its own severity (the backfill read it
    -- from its document), the incoming one unless a body lied about its fingerprint.
    reindex(a, now, was, cur[7] or a.sev, moved)
  end
  local kd = k_delivery(a.fp)
  if a.status == S_RESOLVED then
    if moved then
      -- Resolved records stay readable for the retention, then expire with their history.
      -- A resolve ends the episode's escalation ladder.
      local ke = k_escalation(a.fp)
      for _, k in ipairs({ka, kh, a.kn, kd, ke}) do redis.call('PEXPIRE', k, retention) end
      redis.call('ZADD', expiry, now + retention, a.fp)
      if redis.call('ZREM', k_escalation_due(), a.fp) == 1 then
        redis.call('HSET', ke, 'ended', S_RESOLVED)
      end
    end
  elseif kind == 'new' then
    -- The others expired with the record; the delivery state is written by the workers
    -- and may have been given its expiry later. A leftover expiry entry of an earlier
    -- episode is harmless: pruning keeps index entries whose record exists.
    redis.call('PERSIST', kd)
  elseif kind == 'changed' and was == S_RESOLVED then
    for _, k in ipairs({ka, kh, a.kn, kd}) do redis.call('PERSIST', k) end
    redis.call('ZREM', expiry, a.fp)
  end
  if a.esc and a.status == S_FIRING and kind ~= 'stale' then ladder(a, now) end
end

-- slot(dest, rate, now): the GCRA of store/lua/throttle.lua, put in front of this script.

-- Digest buffer: one field per alert, "count|first_ms|last_ms", however often it comes;
-- beyond the digest's max_alerts only `_more` counts, so the buffer stays bounded. It
-- expires if no window claims it any more (store/lua/digest_flush.lua renames it away).
local function buffer(j, now)
  local kd = k_digest(j.digest)
  local cur = redis.call('HGET', kd, j.fp)
  if cur then
    local n, first = string.match(cur, '^(%d+)|(%d+)|')
    redis.call('HSET', kd, j.fp, (tonumber(n) + 1) .. '|' .. first .. '|' .. now)
  elseif redis.call('HLEN', kd) - redis.call('HEXISTS', kd, '_more') >= j.dmax then
    redis.call('HINCRBY', kd, '_more', 1)
  else
    redis.call('HSET', kd, j.fp, '1|' .. now .. '|' .. now)
  end
  redis.call('PEXPIRE', kd, j.dttl)
end

local function route(r, now, count, gone)
  if next(gone) then  -- drop the jobs of released alerts another release told already
    local kept = {}
    for _, j in ipairs(r.jobs) do
      if not (j.rel and gone[j.rel]) then kept[#kept + 1] = j end
    end
    r.jobs = kept
  end
  local in_storm = false
  if r.storm then
    local ws = now - (now % r.storm[2])
    local kc = k_storm_count(r.route, ws)
    local n = redis.call('INCR', kc)
    if n == 1 then redis.call('PEXPIRE', kc, r.storm[2] + grace) end
    if n > r.storm[1] then
      in_storm = k_storm_buffer(r.route, ws)
      redis.call('PEXPIRE', in_storm, r.storm[2] + grace)
      redis.call('ZADD', k_storm_due(), 'NX', ws + r.storm[2], r.route .. '|' .. ws)
    end
  end
  for _, j in ipairs(r.jobs) do
    if j.mode == 'digest' then
      buffer(j, now)
      count(j.dest, 'digest')
    elseif in_storm and j.mode == 'soft' then
      -- Only warnings/info fold into a summary: criticals and resolves always go alone.
      redis.call('RPUSH', in_storm, j.job)
      count(j.dest, 'summary')
    else
      local at, tat = now, nil
      if j.rate then at, tat = slot(j.dest, j.rate, now) end
      if at <= now then
        if tat then redis.call('SET', k_bucket(j.dest), tat, 'PX', bucket_ttl) end
        redis.call('XADD', outbox, '*', 'job', j.job)
        count(j.dest, 'immediate')
      elseif j.mode == 'soft' and j.digest then
        -- The route's digest lists this alert anyway (a route's digest is one of its
        -- destinations): over the limit, a warning/info is left to it, not delayed.
        count(j.dest, 'digest')
      else
        -- Reserve the next free slot: later jobs queue behind, so order is kept.
        redis.call('SET', k_bucket(j.dest), tat, 'PX', bucket_ttl)
        redis.call('ZADD', delayed, at, j.job)
        count(j.dest, 'delayed')
      end
    end
  end
end

local function intake(req)
  local conflict = outdated(req.alerts)
  if conflict then return {conflict = conflict} end
  local now = tonumber(req.now)
  local kinds = {new = 0, changed = 0, unchanged = 0, stale = 0}
  local seen = {}  -- heartbeat → arrival: one HSET per body however many alerts match
  local gone = {}  -- released alerts no longer in their muted set: told by another release
  for _, a in ipairs(req.alerts) do
    if a.rel and redis.call('HEXISTS', k_maint_muted(a.rel), a.fp) == 0 then
      gone[a.fp] = true
      kinds.released = (kinds.released or 0) + 1
    else
      record(a, now, kinds, seen)
    end
  end
  flush_index_writes()
  local hb = {}
  for name, at in pairs(seen) do
    hb[#hb + 1] = name
    hb[#hb + 1] = at
  end
  if #hb > 0 then redis.call('HSET', k_heartbeat_seen(), unpack(hb)) end
  local actions = {}
  local function count(dest, action)
    actions[dest] = actions[dest] or {immediate = 0, delayed = 0, digest = 0, summary = 0}
    actions[dest][action] = actions[dest][action] + 1
  end
  for _, r in ipairs(req.routed) do route(r, now, count, gone) end
  return {kinds = kinds, actions = actions}
end

local results, latest = {}, 0
for i, req in ipairs(cjson.decode(ARGV[6])) do
  results[i] = intake(req)
  if tonumber(req.now) > latest then latest = tonumber(req.now) end
end

-- Forget index entries of records that have expired (not of an alert that came back).
-- Only resolved records expire, so only the resolved partitions can hold them.
local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', latest, 'LIMIT', 0, 100)
for _, fp in ipairs(gone) do
  redis.call('ZREM', expiry, fp)
  local ka = k_alert(fp)
  if redis.call('EXISTS', ka) == 0 then
    redis.call('ZREM', index, fp)
    for _, sev in ipairs(SEVERITIES) do
      redis.call('ZREM', k_by_state(S_RESOLVED, sev), fp)
    end
  elseif redis.call('HGET', ka, 'status') == S_RESOLVED then
    -- Our clock ran ahead of Redis's: look again when the record is really gone, or its
    -- index entries would outlive it.
    local left = redis.call('PTTL', ka)
    if left > 0 then redis.call('ZADD', expiry, latest + left, fp) end
  end
end

return cjson.encode(results)
