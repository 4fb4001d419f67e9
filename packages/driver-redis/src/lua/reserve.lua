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
-- @include claim
return claim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[1], ARGV[2], ARGV[3])
