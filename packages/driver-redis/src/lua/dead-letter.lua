--[[
  dead-letter: moves a leased job into the queue's dead-letter store and frees its unique key (and,
  for a grouped job, wakes a blocked grouped claim: groups.lua, groupLeaseEnded).

  KEYS[1] leased    zset  id -> lease expiry
  KEYS[2] unique    hash  uniqueKey -> id
  KEYS[3] dead      zset  id -> failedAt * 1024 + (sequence mod 1024), so equal times keep order
  KEYS[4] dead-info hash  id -> failure record (JSON: reason, error, attempts, firstFailedAt, failedAt)
  KEYS[5] dead-body hash  id -> the stored body, as it was (it may be undecodable)
  KEYS[6] seq       string, the queue's sequence counter
  KEYS[7] cancelled-info  hash  id -> record of each cancelled job kept

  ARGV[1] job key, `<prefix>:{<queue>}:j:<id>`
  ARGV[2] job id
  ARGV[3] fencing token of the delivery
  ARGV[4] failedAt (epoch ms)
  ARGV[5] failure record (JSON)

  Returns: 1 dead-lettered, -2 the job was cancelled, -1 the lease was lost or the job is gone
  otherwise: nothing changed unless 1.
]]
-- @include groups
local jk = ARGV[1]
local id = ARGV[2]
local f = redis.call('HMGET', jk, 't', 'u', 'b', 'k')
if f[1] ~= ARGV[3] or redis.call('ZSCORE', KEYS[1], id) == false then
  if f[1] == false and redis.call('HEXISTS', KEYS[7], id) == 1 then return -2 end
  return -1
end
if f[2] and f[2] ~= '' and redis.call('HGET', KEYS[2], f[2]) == id then redis.call('HDEL', KEYS[2], f[2]) end
redis.call('DEL', jk)
redis.call('ZREM', KEYS[1], id)
local seq = redis.call('INCR', KEYS[6])
redis.call('ZADD', KEYS[3], string.format('%.0f', tonumber(ARGV[4]) * 1024 + seq % 1024), id)
redis.call('HSET', KEYS[4], id, ARGV[5])
redis.call('HSET', KEYS[5], id, f[3])
groupLeaseEnded(string.sub(jk, 1, #jk - #id), id, f[4])
return 1
