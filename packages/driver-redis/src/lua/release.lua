--[[
  release: settles a failed run: counts it (HINCRBY a, so the next claim's attempt is one
  higher) and makes the job available again at once or after a delay, optionally with a new body.

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed   zset  id -> due time (epoch ms)
  KEYS[3] leased    zset  id -> lease expiry
  KEYS[4] seq       string, FIFO sequence counter
  KEYS[5] marker    zset, wakes blocked reservers
  KEYS[6] prios     zset  of priorities in use
  KEYS[7] cancelled-info  hash  id -> record of each cancelled job kept

  ARGV[1] job key, `<prefix>:{<queue>}:j:<id>`
  ARGV[2] job id
  ARGV[3] fencing token of the delivery
  ARGV[4] delay in ms (0 = ready now, at the back of its priority band)
  ARGV[5] new body ('' keeps the stored one)
  ARGV[6] new priority ('' keeps the stored one)

  Returns: 1 released, -2 the job was cancelled, -1 the lease was lost or the job is gone
  otherwise: nothing changed unless 1.
]]
-- @include groups
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local jk = ARGV[1]
local id = ARGV[2]
local f = redis.call('HMGET', jk, 't', 'p', 'k')
if f[1] ~= ARGV[3] or redis.call('ZSCORE', KEYS[3], id) == false then
  if f[1] == false and redis.call('HEXISTS', KEYS[7], id) == 1 then return -2 end
  return -1
end
local prio = f[2]
if ARGV[6] ~= '' then prio = ARGV[6] end
redis.call('ZREM', KEYS[3], id)
redis.call('HSET', jk, 't', '', 'p', prio)
redis.call('HINCRBY', jk, 'a', 1)
if ARGV[5] ~= '' then redis.call('HSET', jk, 'b', ARGV[5]) end
local delay = tonumber(ARGV[4])
if delay > 0 then
  redis.call('ZADD', KEYS[2], string.format('%.0f', now + delay), id)
else
  local seq = redis.call('INCR', KEYS[4])
  local score = string.format('%.0f', tonumber(prio) * 4294967296 + seq)
  redis.call('HSET', jk, 's', score, 'r', now)
  redis.call('ZADD', KEYS[1], score, id)
  redis.call('ZADD', KEYS[6], prio, prio)
  groupReady(string.sub(jk, 1, #jk - #id), id, score, f[3])
end
redis.call('ZADD', KEYS[5], 0, '0')
return 1
