--[[
  reserve: claims up to `max` jobs of one queue under a lease (reserve() claims 1, claim() up to
  its max). Before claiming it reclaims expired leases (counting each as a lost delivery of its
  job) and promotes delayed jobs that came due (Redis TIME).

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed   zset  id -> due time (epoch ms)
  KEYS[3] leased    zset  id -> lease expiry (epoch ms)
  KEYS[4] seq       string, FIFO sequence counter
  KEYS[5] marker    zset, wakes blocked reservers
  KEYS[6] prios     zset  of priorities in use
  KEYS[7] paused    string, present while claims are paused (nothing is claimed then)

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`
  ARGV[2] fencing token base (the n-th claimed job gets `<base>:<n>`)
  ARGV[3] lease length in ms
  ARGV[4] max, how many jobs to claim at most (>= 1)
  ARGV[5] lease holder stored with the claimed jobs ('' when unknown)
  ARGV[6] groupConcurrency: 0 claims without groups, n >= 1 group by group (claim.lua, claimGrouped)

  Returns: {claimed, nextAt, now} where claimed holds 5 values per claimed job, in claim order:
  id, body, attempt (failed runs + 1), lostDeliveries, leaseExpiresAt; nextAt is, when nothing was
  claimed, the epoch ms of the next delayed job or lease expiry (-1 when there is none); now is
  Redis TIME in epoch ms. When ready jobs remain after the claim it sets the marker, so another
  blocked reserver wakes.
]]
-- @include chunks
-- @include promote
-- @include claim
local result = claimUpTo(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], groupConcurrencyOf(ARGV[6]))
return {result[1], result[2], now}
