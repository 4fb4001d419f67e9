--[[
  ack: deletes a completed job whose lease this token holds, and frees its unique key.

  KEYS[1] leased    zset  id -> lease expiry
  KEYS[2] unique    hash  uniqueKey -> id

  ARGV[1] job key, `<prefix>:{<queue>}:j:<id>`
  ARGV[2] job id
  ARGV[3] fencing token of the delivery

  Returns: 1 acknowledged, 0 the job is already gone (a no-op), -1 the lease was lost (another
  delivery holds the job, or it was made available again): nothing changed.
]]
local jk = ARGV[1]
local id = ARGV[2]
local f = redis.call('HMGET', jk, 't', 'u')
if f[1] == false then
  redis.call('ZREM', KEYS[1], id)
  return 0
end
-- The token is cleared whenever the lease ends (reclaim, release, give-back), so a match means
-- this delivery still holds the lease; an empty token never does.
if ARGV[3] == '' or f[1] ~= ARGV[3] then return -1 end
if f[2] and f[2] ~= '' and redis.call('HGET', KEYS[2], f[2]) == id then redis.call('HDEL', KEYS[2], f[2]) end
redis.call('DEL', jk)
redis.call('ZREM', KEYS[1], id)
return 1
