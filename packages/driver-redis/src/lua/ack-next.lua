--[[
  ack-next: acknowledges a delivery and, in the same step, claims the next job of the same queue
  for the worker that is about to ask for one (the driver hands it to that worker's next
  reserve() call, or gives it back with unclaim.lua when none comes).

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed   zset  id -> due time (epoch ms)
  KEYS[3] leased    zset  id -> lease expiry (epoch ms)
  KEYS[4] seq       string, FIFO sequence counter
  KEYS[5] marker    zset, wakes blocked reservers
  KEYS[6] prios     zset  of priorities in use
  KEYS[7] unique    hash  uniqueKey -> id

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`
  ARGV[2] id of the job to acknowledge
  ARGV[3] fencing token of that delivery
  ARGV[4] fencing token for the next delivery
  ARGV[5] lease length of the next delivery, in ms

  Returns: {ack} when the ack did not succeed (ack as in ack.lua: 0 already gone, -1 lease lost;
  nothing else is done), else {1} followed by what claim() returns (see claim.lua).
]]
-- @include promote
-- @include claim
local jobPrefix = ARGV[1]
local id = ARGV[2]
local jk = jobPrefix .. id
local f = redis.call('HMGET', jk, 't', 'u')
if f[1] == false then
  redis.call('ZREM', KEYS[3], id)
  return {0}
end
-- The token is cleared whenever the lease ends (reclaim, release, unclaim), so a match means
-- this delivery still holds the lease; an empty token never does.
if ARGV[3] == '' or f[1] ~= ARGV[3] then return {-1} end
if f[2] and f[2] ~= '' and redis.call('HGET', KEYS[7], f[2]) == id then redis.call('HDEL', KEYS[7], f[2]) end
redis.call('DEL', jk)
redis.call('ZREM', KEYS[3], id)
local c = claim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], jobPrefix, ARGV[4], ARGV[5])
table.insert(c, 1, 1)
return c
