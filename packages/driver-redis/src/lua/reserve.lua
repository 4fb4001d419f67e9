--[[
  reserve: claims the next job of one queue under a lease, counting the delivery in the same step.
  Before claiming it reclaims expired leases and promotes delayed jobs that came due (Redis TIME).

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed   zset  id -> due time (epoch ms)
  KEYS[3] leased    zset  id -> lease expiry (epoch ms)
  KEYS[4] seq       string, FIFO sequence counter
  KEYS[5] marker    zset, wakes blocked reservers
  KEYS[6] prios     zset  of priorities in use

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`
  ARGV[2] fencing token for this delivery
  ARGV[3] lease length in ms

  Returns, when a job was claimed: {1, id, body, deliveries, leaseExpiresAt, now}
           when none is ready:     {0, nextAt, now} where nextAt is the epoch ms of the next
                                   delayed job or lease expiry, -1 when there is none.
  When ready jobs remain after the claim it sets the marker, so another blocked reserver wakes.
]]
-- @include promote
local jobPrefix = ARGV[1]
reclaim(KEYS[1], KEYS[3], KEYS[6], jobPrefix)
promote(KEYS[1], KEYS[2], KEYS[4], KEYS[6], jobPrefix)
for _ = 1, 100 do
  local popped = redis.call('ZPOPMIN', KEYS[1])
  if #popped == 0 then break end
  local id = popped[1]
  local jk = jobPrefix .. id
  local body = redis.call('HGET', jk, 'b')
  if body then
    local deliveries = redis.call('HINCRBY', jk, 'd', 1)
    local expires = now + tonumber(ARGV[3])
    redis.call('HSET', jk, 't', ARGV[2])
    redis.call('ZADD', KEYS[3], fmt(expires), id)
    if redis.call('ZCARD', KEYS[1]) > 0 then redis.call('ZADD', KEYS[5], 0, '0') end
    return {1, id, body, deliveries, expires, now}
  end
end
local nextAt = -1
local d = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #d > 0 then nextAt = tonumber(d[2]) end
local l = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if #l > 0 and (nextAt == -1 or tonumber(l[2]) < nextAt) then nextAt = tonumber(l[2]) end
return {0, nextAt, now}
