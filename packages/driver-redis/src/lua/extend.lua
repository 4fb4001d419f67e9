--[[
  extend: prolongs the leases of one or more deliveries of one queue that their tokens still hold.

  KEYS[1] leased    zset  id -> lease expiry
  KEYS[2] cancelled-info  hash  id -> record of each cancelled job kept

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`
  ARGV[2] new lease length in ms, from now (Redis TIME)
  then 2 values per delivery: id, fencing token

  Returns: one value per delivery, in order: the new expiry (epoch ms), -2 when the job was
  cancelled (it is gone and kept as cancelled), or -1 when the lease was lost or the job is gone
  otherwise (nothing changed for it).
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = now + tonumber(ARGV[2])
local score = string.format('%.0f', expires)
local out = {}
local i = 3
while ARGV[i] do
  local id, token = ARGV[i], ARGV[i + 1]
  local held = redis.call('HGET', ARGV[1] .. id, 't')
  if token ~= '' and held == token and redis.call('ZSCORE', KEYS[1], id) ~= false then
    redis.call('ZADD', KEYS[1], score, id)
    out[#out + 1] = expires
  elseif held == false and redis.call('HEXISTS', KEYS[2], id) == 1 then
    out[#out + 1] = -2
  else
    out[#out + 1] = -1
  end
  i = i + 2
end
return out
