--[[
  dead-purge-ids: deletes the dead letters of one queue that have the given ids.

  KEYS[1] dead      zset  id -> failedAt * 1024 + (sequence mod 1024)
  KEYS[2] dead-info hash  id -> failure record
  KEYS[3] dead-body hash  id -> body

  ARGV    the job ids (at most 1,000)

  Returns: how many entries were deleted (ids with no entry in this queue count nothing).
]]
if #ARGV == 0 then return 0 end
local deleted = redis.call('ZREM', KEYS[1], unpack(ARGV))
redis.call('HDEL', KEYS[2], unpack(ARGV))
redis.call('HDEL', KEYS[3], unpack(ARGV))
return deleted
