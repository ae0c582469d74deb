-- GCRA, shared by the scripts that enqueue jobs (intake.lua, escalation_apply.lua):
-- receiver/store/scripts.py puts it, on the prelude's line, in front of those scripts.
-- The bucket key holds the theoretical arrival time (tat). Returns the time the request
-- may go (now when within the burst) and the tat to store if it is taken.
local function slot(dest, rate, now)
  local tat = tonumber(redis.call('GET', k_bucket(dest)) or '0')
  if tat < now then tat = now end
  local at = tat - (rate[2] - 1) * rate[1]
  if at < now then at = now end
  return at, tat + rate[1]
end
