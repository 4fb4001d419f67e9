--[[
  job-list: one page of the jobs of one queue in one state: waiting in claim order (priority, then
  FIFO), delayed by due time, active by lease expiry, completed and cancelled most recently
  finished first. Delayed jobs that came due are promoted first.

  KEYS[1] ready           zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed         zset  id -> due time
  KEYS[3] leased          zset  id -> lease expiry
  KEYS[4] seq             string, FIFO sequence counter
  KEYS[5] prios           zset  of priorities in use
  KEYS[6]  completed-ids   list  ids of the completed records kept, oldest first (see finished.lua)
  KEYS[7]  completed-info  hash  id -> finished-job record
  KEYS[8]  cancelled-ids   list  ids of the cancelled records kept, oldest first
  KEYS[9]  cancelled-info  hash  id -> finished-job record
  KEYS[10] completed       zset  an earlier version's index of KEYS[6], moved into it when found
  KEYS[11] cancelled       zset  an earlier version's index of KEYS[8], moved into it when found

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`
  ARGV[2] state: waiting, delayed, active, completed or cancelled
  ARGV[3] offset (>= 0)
  ARGV[4] limit (>= 1)

  Returns: for a live state, one array per job with the fields of liveJob (see live-job.lua); for
  completed and cancelled, the records (JSON text).
]]
-- @include chunks
-- @include promote
-- @include live-job
-- @include finished
local jobPrefix = ARGV[1]
local state = ARGV[2]
local first = tonumber(ARGV[3])
local last = first + tonumber(ARGV[4]) - 1
if state == 'completed' or state == 'cancelled' then
  local listKey, infoKey, oldKey = KEYS[6], KEYS[7], KEYS[10]
  if state == 'cancelled' then listKey, infoKey, oldKey = KEYS[8], KEYS[9], KEYS[11] end
  adoptOldIndex(oldKey, listKey)
  -- Most recently finished first: the list's end, read backwards.
  local ids = redis.call('LRANGE', listKey, -1 - last, -1 - first)
  if #ids == 0 then return {} end
  local records = redis.call('HMGET', infoKey, unpack(ids))
  local out = {}
  for k = #ids, 1, -1 do
    if records[k] then out[#out + 1] = records[k] end
  end
  return out
end
promote(KEYS[1], KEYS[2], KEYS[4], KEYS[5], jobPrefix)
local zsetKey = KEYS[1]
if state == 'delayed' then zsetKey = KEYS[2] elseif state == 'active' then zsetKey = KEYS[3] end
local entries = redis.call('ZRANGE', zsetKey, first, last, 'WITHSCORES')
local out = {}
for k = 1, #entries, 2 do
  local score = entries[k + 1]
  if state == 'waiting' then score = '' end
  local job = liveJob(jobPrefix, entries[k], state, score)
  if job then out[#out + 1] = job end
end
return out
