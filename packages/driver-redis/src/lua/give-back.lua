--[[
  unclaim: gives back a job claimed ahead for a reserve() that never came, as if it had not been
  claimed: back to the front of its priority band, its delivery count lowered again, its token
  cleared.

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] leased    zset  id -> lease expiry
  KEYS[3] marker    zset, wakes blocked reservers
  KEYS[4] prios     zset  of priorities in use

  ARGV[1] job key, `<prefix>:{<queue>}:j:<id>`
  ARGV[2] job id
  ARGV[3] fencing token of the claim

  Returns: 1 given back, -1 the claim no longer holds (nothing changed).
]]
local jk = ARGV[1]
local id = ARGV[2]
local f = redis.call('HMGET', jk, 't', 's', 'p')
if f[1] ~= ARGV[3] or redis.call('ZSCORE', KEYS[2], id) == false then return -1 end
redis.call('ZREM', KEYS[2], id)
redis.call('HSET', jk, 't', '')
redis.call('HINCRBY', jk, 'd', -1)
redis.call('ZADD', KEYS[1], f[2], id)
redis.call('ZADD', KEYS[4], f[3], f[3])
redis.call('ZADD', KEYS[3], 0, '0')
return 1
