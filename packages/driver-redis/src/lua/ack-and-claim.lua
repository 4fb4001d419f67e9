--[[
  ack-and-claim: acknowledges several deliveries of one queue and, in the same step, claims up to
  `wanted` next jobs of that queue (0 only acknowledges).

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed   zset  id -> due time (epoch ms)
  KEYS[3] leased    zset  id -> lease expiry (epoch ms)
  KEYS[4] seq       string, FIFO sequence counter
  KEYS[5] marker    zset, wakes blocked reservers
  KEYS[6] prios     zset  of priorities in use
  KEYS[7] unique    hash  uniqueKey -> id

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`
  ARGV[2] fencing token base for the claimed jobs (the n-th gets `<base>:<n>`)
  ARGV[3] lease length of the claimed jobs, in ms
  ARGV[4] wanted, how many jobs to claim at most (0: none, and no reclaim or promotion either)
  then 2 values per delivery to acknowledge: id, fencing token

  Returns: {acks, claimed} where acks holds one code per delivery as in ack.lua (1 acknowledged,
  0 already gone, -1 lease lost: nothing changed for it), and claimed holds 5 values per claimed
  job, in claim order: id, body, attempt (failed runs + 1), lostDeliveries, leaseExpiresAt.
]]
-- @include promote
-- @include claim
local jobPrefix = ARGV[1]
local acks = {}
local i = 5
while ARGV[i] do
  local id, token = ARGV[i], ARGV[i + 1]
  local jk = jobPrefix .. id
  local f = redis.call('HMGET', jk, 't', 'u')
  if f[1] == false then
    redis.call('ZREM', KEYS[3], id)
    acks[#acks + 1] = 0
  elseif token == '' or f[1] ~= token then
    -- The token is cleared whenever the lease ends (reclaim, release, give-back): a mismatch
    -- means another delivery holds the job now, or it was made available again.
    acks[#acks + 1] = -1
  else
    if f[2] and f[2] ~= '' and redis.call('HGET', KEYS[7], f[2]) == id then redis.call('HDEL', KEYS[7], f[2]) end
    redis.call('DEL', jk)
    redis.call('ZREM', KEYS[3], id)
    acks[#acks + 1] = 1
  end
  i = i + 2
end
local claimed = {}
local wanted = tonumber(ARGV[4])
if wanted > 0 then
  claimed = claimUpTo(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], jobPrefix, ARGV[2], ARGV[3], wanted)[1]
end
return {acks, claimed}
