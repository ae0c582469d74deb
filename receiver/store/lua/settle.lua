-- Record delivery outcomes, acknowledge their outbox entries, and keep the destinations'
-- circuits, for a batch of jobs in one call (receiver/delivery/worker.py, settler.py,
-- backpressure.py). Each job is settled on its own, in order, atomically with its ack:
-- a job whose step fails (a Redis error) answers {-1, error} and leaves the others alone.
-- Idempotent: an entry that is no longer pending (recorded already, by this call's earlier
-- try whose answer was lost, or by another replica) is left alone, so a worker may retry
-- this step until Redis answers without doubling a dead letter or a retry.
-- Key names: none are built here; the caller passes them from receiver/store/keys.py.
-- Per job, 6 KEYS and 18 ARGV, job j (from 0) at KEYS[6j + n] and ARGV[18j + n]:
-- K[1] outbox   K[2] delayed   K[3] dead letters   K[4] delivery state hash
-- K[5] circuit hash   K[6] parked zset
-- A[1] group   A[2] entry id   A[3] now (ms)
-- A[4] verdict: done | reject (dead letter: the destination refused it for good) |
-- dead (dead letter: retries exhausted) | retry | fail (retryable trouble) | throttle (429)
-- A[5] state field (the job's record field)   A[6] state JSON ('' = none)   A[7] state TTL s
-- A[8] job JSON for retry / park / dead   A[9] retry due (ms)   A[10] park score
-- A[11] pause (ms, throttle)   A[12] error detail   A[13] outcome
-- A[14] '1' when this send was the half-open probe   A[15] failures that open
-- A[16] first open interval (ms)   A[17] longest open interval (ms)
-- A[18] parked jobs released to the outbox when the circuit closes
-- Returns one reply per job: {1, what happened}, {0, 'gone'} or {-1, error}.
local function settle(K, A)
  local pending = redis.call('XPENDING', K[1], A[1], A[2], A[2], 1)
  if #pending == 0 then return {0, 'gone'} end
  local now, verdict, probe = tonumber(A[3]), A[4], A[14] == '1'
  if A[6] ~= '' then
    redis.call('HSET', K[4], A[5], A[6])
    if tonumber(A[7]) > 0 then redis.call('EXPIRE', K[4], tonumber(A[7])) end
  end
  local result = verdict
  local function park()
    redis.call('ZADD', K[6], tonumber(A[10]), A[8])
    result = 'parked'
  end
  local function open(untl, reason)
    local cur = tonumber(redis.call('HGET', K[5], 'until') or '0')
    if untl < cur then untl = cur end
    redis.call('HSET', K[5], 'until', untl, 'reason', reason)
    redis.call('HDEL', K[5], 'probe', 'woken')  -- the next pause gets its own probe
    -- Outlives the pause by a day: a destination removed from the config leaves no key.
    redis.call('PEXPIRE', K[5], untl - now + 86400000)
  end
  if verdict == V_DONE or verdict == V_REJECT then
    -- The destination answered: a probe's success closes the circuit, any answer resets
    -- the failure count. Parked jobs go back to the outbox, oldest criticals first.
    if redis.call('EXISTS', K[5]) == 1 then
      local untl = tonumber(redis.call('HGET', K[5], 'until') or '0')
      if probe or untl == 0 or untl <= now then
        redis.call('DEL', K[5])
        local jobs = redis.call('ZPOPMIN', K[6], tonumber(A[18]))
        for i = 1, #jobs, 2 do redis.call('XADD', K[1], '*', 'job', jobs[i]) end
      end
    end
  elseif verdict == V_THROTTLE then
    open(now + tonumber(A[11]), 'rate_limited')
    park()
  elseif verdict == V_FAIL then
    local untl = tonumber(redis.call('HGET', K[5], 'until') or '0')
    if untl > now and not probe then
      park()  -- a send that started before the circuit opened: wait with the others
    else
      local fails = redis.call('HINCRBY', K[5], 'fails', 1)
      if probe or untl > 0 or fails >= tonumber(A[15]) then
        local opens = redis.call('HINCRBY', K[5], 'opens', 1)
        local interval = math.floor(tonumber(A[16]) * 2 ^ (opens - 1))
        if interval > tonumber(A[17]) then interval = tonumber(A[17]) end
        open(now + interval, 'failing')
        -- The failures before it opened wait with the parked jobs too, in their order,
        -- instead of coming back on their own backoff after it closed.
        for i = 1, tonumber(A[15]) - 1 do
          local r = redis.call('HGET', K[5], 'retry:' .. i)
          if r then
            local sep = string.find(r, '|', 1, true)
            local job = string.sub(r, sep + 1)
            if redis.call('ZREM', K[2], job) == 1 then
              redis.call('ZADD', K[6], tonumber(string.sub(r, 1, sep - 1)), job)
            end
            redis.call('HDEL', K[5], 'retry:' .. i)
          end
        end
        park()
      else
        redis.call('PEXPIRE', K[5], 86400000)
        redis.call('ZADD', K[2], tonumber(A[9]), A[8])
        redis.call('HSET', K[5], 'retry:' .. fails, A[10] .. '|' .. A[8])
        result = V_RETRY
      end
    end
  elseif verdict == V_RETRY then
    redis.call('ZADD', K[2], tonumber(A[9]), A[8])
  end
  if verdict == V_DEAD or verdict == V_REJECT then
    redis.call('XADD', K[3], '*', 'job', A[8], 'error', A[12], 'outcome', A[13],
               'at_ms', A[3])
  end
  redis.call('XACK', K[1], A[1], A[2])
  redis.call('XDEL', K[1], A[2])
  return {1, result}
end

local replies = {}
for j = 0, #KEYS / 6 - 1 do
  local K, A = {}, {}
  for n = 1, 6 do K[n] = KEYS[6 * j + n] end
  for n = 1, 18 do A[n] = ARGV[18 * j + n] end
  local ok, reply = pcall(settle, K, A)
  if not ok then
    -- Redis 7 raises a table {err = …} from redis.call, 6.2 a string.
    reply = {-1, tostring(type(reply) == 'table' and reply.err or reply)}
  end
  replies[#replies + 1] = reply
end
return replies
