--[[
  schedule-ledger: the schedule ledger's atomic steps on one schedule, on Redis TIME.

  KEYS[1] the schedule's hash `<prefix>:sched:{<name>}`:
          tick      the latest fired tick (ms)       tick_job  the job id of that tick
          tick_at   when it was recorded (ms)        run_job   the job id of the latest manual run
          run_at    when that run was recorded (ms)

  ARGV[1] operation:
    'tick' ARGV[2] tick ms, ARGV[3] job id: a compare-and-set, recorded only when later than the
           recorded tick. Returns 1 recorded, 0 not later.
    'run'  ARGV[2] job id: records a manual run; the tick is unchanged. Returns 1.
]]
local t = redis.call('TIME')
local now = math.floor(tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000)
local op = ARGV[1]
if op == 'tick' then
  local last = redis.call('HGET', KEYS[1], 'tick')
  if last and tonumber(last) >= tonumber(ARGV[2]) then return 0 end
  redis.call('HSET', KEYS[1], 'tick', ARGV[2], 'tick_job', ARGV[3], 'tick_at', tostring(now))
  return 1
elseif op == 'run' then
  redis.call('HSET', KEYS[1], 'run_job', ARGV[2], 'run_at', tostring(now))
  return 1
end
return redis.error_reply('schedule-ledger: unknown operation ' .. tostring(op))
