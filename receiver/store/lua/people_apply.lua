-- Apply the runner's decisions for the rule chains it claimed (people_claim.lua).
--
-- Per chain, atomically: only if this claim still holds it at the rule it decided from,
-- re-check the alert (still firing in the chain's episode, not acknowledged meanwhile:
-- an ack that lands after the claim wins, whoever acked and however), then fire (the
-- rule's job to the outbox through the destination's throttle, its notification record so
-- that the resolve reaches that contact method, the rule's log) and schedule the next, or
-- wait, or stop. Key names come from the prelude; slot() is store/lua/throttle.lua.
--
-- KEYS[1]  Keys.people_due
-- ARGV[1]  key tag     ARGV[2] now (ms)     ARGV[3] claim id     ARGV[4] throttle key ttl
-- ARGV[5]  JSON [{m ("fp:person"), fp, person, fired, episode, action: fire|wait|stop,
--                 due (next) | false, reason, via, log (the rule's log JSON),
--                 jobs: [[dest, job, rate: [interval_ms, burst] | false, record field,
--                         record JSON]]}]
-- Returns JSON [outcome per item]: fired | waiting | stopped | lost | gone | resolved |
-- acked (stopped by an ack) | held (an ack with an expiry: waits for it).
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

local function fire(it, kc, cur)
  if #it.jobs > 0 then
    local kn = k_notified(it.fp)
    local v = tonumber(cur[2] or redis.call('HGET', kn, R_VERSION) or '0') + 1
    local args = {}
    for _, j in ipairs(it.jobs) do
      enqueue(j)
      args[#args + 1] = j[4]
      args[#args + 1] = j[5]
    end
    args[#args + 1] = R_VERSION
    args[#args + 1] = v
    redis.call('HSET', kn, unpack(args))
    redis.call('HSET', k_alert(it.fp), 'nv', v)
  end
  local used = redis.call('HGET', kc, 'used') or ''
  if it.via ~= '' and not string.find(',' .. used .. ',', ',' .. it.via .. ',', 1, true) then
    used = used == '' and it.via or (used .. ',' .. it.via)
  end
  redis.call('HSET', kc, 'fired', it.fired + 1, 'rule:' .. it.fired, it.log, 'used', used,
    'claim', '')
end

local function stop(it, kc, reason)
  redis.call('ZREM', kdue, it.m)
  redis.call('HSET', kc, 'ended', reason, 'claim', '')
end

local out = {}
for i, it in ipairs(cjson.decode(ARGV[5])) do
  local kc = k_person_chain(it.fp, it.person)
  local c = redis.call('HMGET', kc, 'claim', 'fired', 'episode')
  local cur = redis.call('HMGET', k_alert(it.fp), 'status', 'nv', 'startsAt', 'ack')
  if not c[3] then
    redis.call('ZREM', kdue, it.m)
    out[i] = 'gone'
  elseif c[1] ~= claim or tonumber(c[2]) ~= it.fired or c[3] ~= it.episode then
    out[i] = 'lost'
  elseif cur[1] ~= S_FIRING or cur[3] ~= it.episode then
    stop(it, kc, S_RESOLVED)
    out[i] = S_RESOLVED
  else
    local u = acked_until(cur[4], it.episode)
    if u ~= nil and it.action ~= 'stop' then
      if u == 0 then
        stop(it, kc, 'acked')
        out[i] = 'acked'
      else
        redis.call('ZADD', kdue, u, it.m)
        redis.call('HSET', kc, 'claim', '')
        out[i] = 'held'
      end
    else
      if it.action == 'fire' then
        fire(it, kc, cur)
        out[i] = 'fired'
      else
        redis.call('HSET', kc, 'claim', '')
        out[i] = it.action == 'wait' and 'waiting' or 'stopped'
      end
      if it.action == 'stop' or not it.due then
        stop(it, kc, it.reason)
      else
        redis.call('ZADD', kdue, it.due, it.m)
      end
    end
  end
end
return cjson.encode(out)
