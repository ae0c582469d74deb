-- A console login attempt against the failed-login limits (receiver/web/store.py), in one
-- atomic step: refuse while the address or everyone is blocked (the token is not judged
-- then, right or wrong); otherwise record a failure and set what it earns. Keys come
-- from the caller (Keys.login_failures): each a hash {n, start, until}, times in ms.
--
-- KEYS[1]  the address's    KEYS[2]  everyone's
-- ARGV[1]  now   ARGV[2] 1 if the token was wrong   ARGV[3] per_address   ARGV[4] free
-- ARGV[5]  overall   ARGV[6] window   ARGV[7] block
-- Returns {0, 0} answered; {1, ms} refused for the address; {2, ms} refused for everyone.
local now = tonumber(ARGV[1])
local per, free, overall = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local window, block = tonumber(ARGV[6]), tonumber(ARGV[7])

local function load(key)
  local v = redis.call('HMGET', key, 'n', 'start', 'until')
  local n, start, till = tonumber(v[1]) or 0, tonumber(v[2]) or now, tonumber(v[3]) or 0
  -- Failures are forgotten once their window is over and no refusal is running.
  if now >= start + window and now >= till then return 0, now, 0 end
  return n, start, till
end

local an, astart, auntil = load(KEYS[1])
local on, ostart, ountil = load(KEYS[2])
if auntil > now then return {1, auntil - now} end
if ountil > now then return {2, ountil - now} end
if ARGV[2] ~= '1' then return {0, 0} end

an, on = an + 1, on + 1
if an >= per then
  auntil = now + block
elseif an > free then
  -- The slow-down: 1 s after the first failure past `free`, then 2, 4, 8 … s.
  auntil = now + math.floor(math.min(1000 * 2 ^ (an - free - 1), block))
end
if on >= overall then ountil = ostart + window end

local function save(key, n, start, till)
  redis.call('HSET', key, 'n', n, 'start', start, 'until', till)
  -- Kept only while it can still matter (relative: the caller's clock may not be Redis's).
  redis.call('PEXPIRE', key, math.floor(math.max(start + window, till) - now + 1000))
end
save(KEYS[1], an, astart, auntil)
save(KEYS[2], on, ostart, ountil)
return {0, 0}
