--[[
  extend: prolongs a lease this token still holds.

  KEYS[1] leased    zset  id -> lease expiry

  ARGV[1] job key, `<prefix>:{<queue>}:j:<id>`
  ARGV[2] job id
  ARGV[3] fencing token of the delivery
  ARGV[4] new lease length in ms, from now (Redis TIME)

  Returns: the new expiry (epoch ms), or -1 when the lease was lost or the job is gone.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HGET', ARGV[1], 't') ~= ARGV[3] or redis.call('ZSCORE', KEYS[1], ARGV[2]) == false then return -1 end
local expires = now + tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], string.format('%.0f', expires), ARGV[2])
return expires
