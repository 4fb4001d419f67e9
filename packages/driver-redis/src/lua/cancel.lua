--[[
  cancel: ends one live job (waiting, delayed or active) for good, keeping it as cancelled: it
  leaves the ready, delayed and leased sets, frees its unique key, and its finished-job record is
  kept (pruned past the retention bounds in the same step). An active job's holder finds it gone:
  its renewal and settles see it cancelled (extend.lua, release.lua, dead-letter.lua) and its ack
  is a no-op that keeps the cancelled record.

  The record is made by the caller from a read of the job (job-get.lua); the job is cancelled only
  if it is still as read (same token, failed runs and progress), else the caller reads again.

  KEYS[1] ready           zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed         zset  id -> due time
  KEYS[3] leased          zset  id -> lease expiry
  KEYS[4] unique          hash  uniqueKey -> id
  KEYS[5] cancelled-ids   list  ids of the cancelled records kept, oldest first (see finished.lua)
  KEYS[6] cancelled-info  hash  id -> finished-job record
  KEYS[7] cancelled       zset  the ids of an earlier version's index, moved into KEYS[5] when found

  ARGV[1] job key, `<prefix>:{<queue>}:j:<id>`
  ARGV[2] job id
  ARGV[3] fencing token as read ('' when not leased)
  ARGV[4] failed runs as read
  ARGV[5] progress as read ('' when none)
  ARGV[6] the cancelled job's finished-job record
  ARGV[7] retention count: cancelled records kept at most
  ARGV[8] retention age in ms
  ARGV[9] retention prune step (finished.lua)

  Returns: 1 cancelled, 0 the job is gone, -1 it changed since it was read: nothing changed.
]]
-- @include chunks
-- @include finished
-- @include groups
local jk = ARGV[1]
local id = ARGV[2]
local f = redis.call('HMGET', jk, 't', 'a', 'g', 'u', 'k')
if f[1] == false then return 0 end
if f[1] ~= ARGV[3] or (f[2] or '0') ~= ARGV[4] or (f[3] or '') ~= ARGV[5] then return -1 end
redis.call('ZREM', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
if f[4] and f[4] ~= '' and redis.call('HGET', KEYS[4], f[4]) == id then redis.call('HDEL', KEYS[4], f[4]) end
redis.call('DEL', jk)
if f[1] ~= '' then groupLeaseEnded(string.sub(jk, 1, #jk - #id), id, f[5]) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
adoptOldIndex(KEYS[7], KEYS[5])
keepFinishedMany(KEYS[5], KEYS[6], {id}, {id, ARGV[6]})
pruneFinished(KEYS[5], KEYS[6], now, tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]))
return 1
