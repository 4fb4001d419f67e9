--[[
  ack-and-claim: acknowledges several deliveries of one queue (keeping the finished-job records
  given, as ack.lua does) and, in the same step, claims up to `wanted` next jobs of that queue (0
  only acknowledges).

  KEYS[1]  ready           zset  id -> priority * 2^32 + sequence
  KEYS[2]  delayed         zset  id -> due time (epoch ms)
  KEYS[3]  leased          zset  id -> lease expiry (epoch ms)
  KEYS[4]  seq             string, FIFO sequence counter
  KEYS[5]  marker          zset, wakes blocked reservers
  KEYS[6]  prios           zset  of priorities in use
  KEYS[7]  unique          hash  uniqueKey -> id
  KEYS[8]  paused          string, present while claims are paused
  KEYS[9]  completed-ids   list  ids of the completed records kept, oldest first (see finished.lua)
  KEYS[10] completed-info  hash  id -> finished-job record
  KEYS[11] completed       zset  the ids of an earlier version's index, moved into KEYS[9] when found

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`
  ARGV[2] fencing token base for the claimed jobs (the n-th gets `<base>:<n>`)
  ARGV[3] lease length of the claimed jobs, in ms
  ARGV[4] wanted, how many jobs to claim at most (0: none, and no reclaim or promotion either)
  ARGV[5] lease holder stored with the claimed jobs ('' when unknown)
  ARGV[6] retention count: completed records kept at most
  ARGV[7] retention age in ms
  ARGV[8] retention prune step (finished.lua)
  ARGV[9] groupConcurrency of the claim: 0 claims without groups, n >= 1 group by group (claim.lua)
  then 3 values per delivery to acknowledge: id, fencing token, finished-job record ('' for none)

  Returns: {acks, claimed} where acks holds one code per delivery as in ack.lua (1 acknowledged,
  0 already gone, -1 lease lost: nothing changed for it), and claimed holds 5 values per claimed
  job, in claim order: id, body, attempt (failed runs + 1), lostDeliveries, leaseExpiresAt.
]]
-- @include chunks
-- @include promote
-- @include claim
-- @include finished
local jobPrefix = ARGV[1]
local acks = {}
-- The records to keep: their ids in order, and id, record pairs for the hash.
local keptIds, records = {}, {}
-- The acknowledged jobs' keys and ids, deleted and unleased together after the loop.
local doneKeys, doneIds = {}, {}
local i = 10
while ARGV[i] do
  local id, token, record = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local jk = jobPrefix .. id
  local f = redis.call('HMGET', jk, 't', 'u', 'k')
  if f[1] == false then
    redis.call('ZREM', KEYS[3], id)
    acks[#acks + 1] = 0
  elseif token == '' or f[1] ~= token then
    -- The token is cleared whenever the lease ends (reclaim, release, give-back): a mismatch
    -- means another delivery holds the job now, or it was made available again.
    acks[#acks + 1] = -1
  else
    if f[2] and f[2] ~= '' and redis.call('HGET', KEYS[7], f[2]) == id then redis.call('HDEL', KEYS[7], f[2]) end
    doneKeys[#doneKeys + 1] = jk
    doneIds[#doneIds + 1] = id
    groupLeaseEnded(jobPrefix, id, f[3])
    if record ~= '' then
      keptIds[#keptIds + 1] = id
      records[#records + 1] = id
      records[#records + 1] = record
    end
    acks[#acks + 1] = 1
  end
  i = i + 3
end
callInChunks('DEL', false, doneKeys)
callInChunks('ZREM', KEYS[3], doneIds)
if #keptIds > 0 then
  adoptOldIndex(KEYS[11], KEYS[9])
  keepFinishedMany(KEYS[9], KEYS[10], keptIds, records)
  pruneFinished(KEYS[9], KEYS[10], now, tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]))
end
local claimed = {}
local wanted = tonumber(ARGV[4])
if wanted > 0 then
  claimed = claimUpTo(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[8], jobPrefix, ARGV[2], ARGV[3], wanted, ARGV[5], groupConcurrencyOf(ARGV[9]))[1]
end
return {acks, claimed}
