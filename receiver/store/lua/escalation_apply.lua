-- Apply the runner's decisions for the ladders it claimed (escalation_claim.lua).
--
-- Per ladder, atomically: only if this claim still holds it at the step it decided from,
-- re-check the alert (still firing in the ladder's episode, not acknowledged meanwhile),
-- then fire (jobs to the outbox through the destination's throttle, notification records
-- so the resolve reaches them, each recipient of its own included, and an ack acts on
-- them, the step's log) and schedule the next step, or wait, or stop. An ack that lands
-- after the claim wins: the step is not sent. Key names come from the prelude; slot() is
-- store/lua/throttle.lua.
--
-- KEYS[1]  Keys.escalation_due
-- ARGV[1]  key tag     ARGV[2] now (ms)     ARGV[3] claim id     ARGV[4] throttle key ttl
-- ARGV[5]  JSON [{fp, fired, episode, action: fire|wait|stop, due (next) | false, reason,
--                 jobs: [[dest, job, rate: [interval_ms, burst] | false, record field,
--                         record JSON (status firing, starts_at, n = ARGV[2], key)]],
--                 step (log JSON), told (the people paged so far, comma-joined),
--                 people: [person] (of the `people` section, paged: their rules start),
--                 started (a wait only: the ladder's new start, moved by a maintenance
--                 window's pause)}]
-- ARGV[6]  a person's rule chain ttl (ms)
-- Returns JSON [outcome per item]: fired | waiting | stopped | lost | gone | resolved |
-- acked.
local now, claim, bucket_ttl = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local kdue = KEYS[1]

local function acked_until(raw, episode)
  if not raw then return nil end
  local a = cjson.decode(raw)
  if a.startsAt ~= episode then return nil end
  local u = tonumber(a.until_ms)
  if u == 0 or u > now then return u end
  return nil
end

local function enqueue(j)
  if not j[3] then
    redis.call('XADD', k_outbox(), '*', 'job', j[2])
    return
  end
  local at, tat = slot(j[1], j[3], now)
  redis.call('SET', k_bucket(j[1]), tat, 'PX', bucket_ttl)
  if at <= now then
    redis.call('XADD', k_outbox(), '*', 'job', j[2])
  else
    redis.call('ZADD', k_delayed(), at, j[2])
  end
end

-- A paged person's rule chain (receiver/people/runner.py), once per alert episode:
-- paged again (another rotation, a later step) while it runs, they get no second one;
-- paged after it stopped (an ack ended it, then an unack resumed the ladder), a new one.
local function page(it, ke, person)
  local kc = k_person_chain(it.fp, person)
  local c = redis.call('HMGET', kc, 'episode', 'ended')
  if c[1] == it.episode and c[2] == '' then return end
  -- Named on the ladder, so that an ack or unack (ack.lua) looks at the chain at once.
  local paged = redis.call('HGET', ke, 'paged') or ''
  if not string.find(',' .. paged .. ',', ',' .. person .. ',', 1, true) then
    redis.call('HSET', ke, 'paged', paged == '' and person or (paged .. ',' .. person))
  end
  redis.call('DEL', kc)
  redis.call('HSET', kc, 'episode', it.episode, 'started', now, 'fired', 0, 'used', '',
    'ended', '', 'claim', '')
  redis.call('PEXPIRE', kc, tonumber(ARGV[6]))
  redis.call('ZADD', k_people_due(), now, it.fp .. ':' .. person)
end

local function fire(it, ke, cur)
  local kn = k_notified(it.fp)
  local v = tonumber(cur[2] or redis.call('HGET', kn, R_VERSION) or '0') + 1
  local args = {}
  for _, j in ipairs(it.jobs) do
    enqueue(j)
    -- The destination's record, or its recipients' (a person mailed): the resolve
    -- reaches each, threaded under the job's key the record keeps.
    args[#args + 1] = j[4]
    args[#args + 1] = j[5]
  end
  args[#args + 1] = R_VERSION
  args[#args + 1] = v
  redis.call('HSET', kn, unpack(args))
  redis.call('HSET', k_alert(it.fp), 'nv', v)
  redis.call('HSET', ke, 'fired', it.fired + 1, 'step:' .. it.fired, it.step, 'told', it.told,
    'claim', '')
  for _, person in ipairs(it.people or {}) do page(it, ke, person) end
end

local out = {}
for i, it in ipairs(cjson.decode(ARGV[5])) do
  local ke = k_escalation(it.fp)
  local e = redis.call('HMGET', ke, 'claim', 'fired', 'episode')
  local cur = redis.call('HMGET', k_alert(it.fp), 'status', 'nv', 'startsAt', 'ack')
  if not e[3] then
    -- No ladder behind the entry (its state expired): nothing can ever run it.
    redis.call('ZREM', kdue, it.fp)
    out[i] = 'gone'
  elseif e[1] ~= claim or tonumber(e[2]) ~= it.fired or e[3] ~= it.episode then
    out[i] = 'lost'
  elseif cur[1] ~= S_FIRING or cur[3] ~= it.episode then
    redis.call('ZREM', kdue, it.fp)
    redis.call('HSET', ke, 'ended', S_RESOLVED, 'claim', '')
    out[i] = S_RESOLVED
  else
    local u = acked_until(cur[4], it.episode)
    if u ~= nil and it.action == 'fire' then
      if u == 0 then
        redis.call('ZREM', kdue, it.fp)
        redis.call('HSET', ke, 'ended', 'acked', 'claim', '')
      else
        redis.call('ZADD', kdue, u, it.fp)
        redis.call('HSET', ke, 'claim', '')
      end
      out[i] = 'acked'
    else
      if it.action == 'fire' then
        fire(it, ke, cur)
        out[i] = 'fired'
      else
        redis.call('HSET', ke, 'claim', '')
        out[i] = it.action == 'wait' and 'waiting' or 'stopped'
        -- A maintenance window paused the ladder: its clock moves by the time paused.
        if it.started then redis.call('HSET', ke, 'started', it.started, 'next_due', it.due) end
      end
      if it.action == 'stop' or not it.due then
        redis.call('ZREM', kdue, it.fp)
        redis.call('HSET', ke, 'ended', it.reason)
      else
        redis.call('ZADD', kdue, it.due, it.fp)
        if it.action == 'fire' then redis.call('HSET', ke, 'next_due', it.due) end
      end
    end
  end
end
return cjson.encode(out)
