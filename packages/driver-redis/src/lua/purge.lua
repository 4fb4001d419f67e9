--[[
  purge: deletes every ready and delayed job of one queue (not leased ones, not dead letters) and
  frees their unique keys.

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed   zset  id -> due time
  KEYS[3] unique    hash  uniqueKey -> id
  KEYS[4] prios     zset  of priorities in use

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`

  Returns: how many jobs were deleted.
]]
local total = 0
for k = 1, 2 do
  for _ = 1, 100000 do
    local ids = redis.call('ZRANGE', KEYS[k], 0, 999)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local jk = ARGV[1] .. id
      local uk = redis.call('HGET', jk, 'u')
      if uk and uk ~= '' and redis.call('HGET', KEYS[3], uk) == id then redis.call('HDEL', KEYS[3], uk) end
      redis.call('DEL', jk)
    end
    redis.call('ZREM', KEYS[k], unpack(ids))
    total = total + #ids
  end
end
redis.call('DEL', KEYS[4])
return total
