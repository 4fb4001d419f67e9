--[[
  dead-purge: deletes the dead letters of one queue that failed before a time.

  KEYS[1] dead      zset  id -> failedAt * 1024 + (sequence mod 1024)
  KEYS[2] dead-info hash  id -> failure record
  KEYS[3] dead-body hash  id -> body

  ARGV[1] upper bound of the score, as a zset range bound: '(' .. failedBefore * 1024, or '+inf'

  Returns: how many entries were deleted.
]]
local total = 0
for _ = 1, 100000 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1000)
  if #ids == 0 then break end
  redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('HDEL', KEYS[2], unpack(ids))
  redis.call('HDEL', KEYS[3], unpack(ids))
  total = total + #ids
end
return total
