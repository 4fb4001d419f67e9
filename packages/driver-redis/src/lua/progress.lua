--[[
  progress: stores the progress of a job whose lease this token holds.

  KEYS[1] leased    zset  id -> lease expiry
  KEYS[2] cancelled-info  hash  id -> record of each cancelled job kept

  ARGV[1] job key, `<prefix>:{<queue>}:j:<id>`
  ARGV[2] job id
  ARGV[3] fencing token of the delivery
  ARGV[4] progress (JSON text, made by core)

  Returns: 1 stored, -2 the job was cancelled, -1 the lease was lost or the job is gone otherwise:
  nothing changed unless 1.
]]
local jk = ARGV[1]
local id = ARGV[2]
local held = redis.call('HGET', jk, 't')
if ARGV[3] ~= '' and held == ARGV[3] and redis.call('ZSCORE', KEYS[1], id) ~= false then
  redis.call('HSET', jk, 'g', ARGV[4])
  return 1
end
if held == false and redis.call('HEXISTS', KEYS[2], id) == 1 then return -2 end
return -1
