--[[
  ack: settles a completed job whose lease this token holds: deletes it, frees its unique key, and
  keeps its finished-job record when one is given (pruning the queue's completed records past the
  retention bounds in the same step). For a grouped job it sets the queue's marker while ready jobs
  wait, so a blocked grouped claim that found the group at its limit looks again (groups.lua).

  KEYS[1] leased          zset  id -> lease expiry
  KEYS[2] unique          hash  uniqueKey -> id
  KEYS[3] completed-ids   list  ids of the completed records kept, oldest first (see finished.lua)
  KEYS[4] completed-info  hash  id -> finished-job record
  KEYS[5] completed       zset  the ids of an earlier version's index, moved into KEYS[3] when found

  ARGV[1] job key, `<prefix>:{<queue>}:j:<id>`
  ARGV[2] job id
  ARGV[3] fencing token of the delivery
  ARGV[4] finished-job record to keep ('' keeps none)
  ARGV[5] retention count: completed records kept at most
  ARGV[6] retention age in ms: older completed records are pruned
  ARGV[7] retention prune step: records past the count are pruned once this many (finished.lua)

  Returns: 1 acknowledged, 0 the job is already gone (a no-op: nothing is kept, so the record of a
  job cancelled while it ran stays `cancelled`), -1 the lease was lost (another delivery holds the
  job, or it was made available again): nothing changed.
]]
-- @include chunks
-- @include finished
-- @include groups
local jk = ARGV[1]
local id = ARGV[2]
local f = redis.call('HMGET', jk, 't', 'u', 'k')
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
groupLeaseEnded(string.sub(jk, 1, #jk - #id), id, f[3])
if ARGV[4] ~= '' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  adoptOldIndex(KEYS[5], KEYS[3])
  keepFinishedMany(KEYS[3], KEYS[4], {id}, {id, ARGV[4]})
  pruneFinished(KEYS[3], KEYS[4], now, tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
end
return 1
