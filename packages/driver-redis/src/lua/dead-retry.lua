--[[
  dead-retry: moves one dead letter back to its queue as a fresh job (both counts 0: attempts `a`
  and lost deliveries `l`; ready now, at the back of its priority band). Its unique key is taken
  again only when no other job holds it.

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] seq       string, FIFO sequence counter
  KEYS[3] marker    zset, wakes blocked reservers
  KEYS[4] unique    hash  uniqueKey -> id
  KEYS[5] prios     zset  of priorities in use
  KEYS[6] dead      zset  id -> failedAt * 1024 + (sequence mod 1024)
  KEYS[7] dead-info hash  id -> failure record
  KEYS[8] dead-body hash  id -> body

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`
  ARGV[2] job id

  Returns: 1 retried, 0 no such dead letter, -1 its body is not a JSON object with a numeric
  priority (poison), -2 a live job with the same id exists. Nothing changes unless 1.
]]
-- @include groups
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[2]
local jk = ARGV[1] .. id
if redis.call('ZSCORE', KEYS[6], id) == false then return 0 end
local body = redis.call('HGET', KEYS[8], id)
if not body then return -1 end
local ok, env = pcall(cjson.decode, body)
if not ok or type(env) ~= 'table' or type(env.priority) ~= 'number' then return -1 end
if redis.call('EXISTS', jk) == 1 then return -2 end
local uk = ''
if type(env.uniqueKey) == 'string' and env.uniqueKey ~= '' and redis.call('HSETNX', KEYS[4], env.uniqueKey, id) == 1 then
  uk = env.uniqueKey
end
local prio = string.format('%.0f', env.priority)
local seq = redis.call('INCR', KEYS[2])
local score = string.format('%.0f', env.priority * 4294967296 + seq)
-- A fresh job: no attempts or lost deliveries counted (the fields are written when first counted).
redis.call('HSET', jk, 'b', body, 'p', prio, 'u', uk, 't', '', 's', score, 'r', now)
local group = false
if type(env.group) == 'string' and env.group ~= '' then
  group = env.group
  markGrouped(ARGV[1], KEYS[1])
  redis.call('HSET', jk, 'k', group)
end
redis.call('ZADD', KEYS[1], score, id)
groupReady(ARGV[1], id, score, group)
redis.call('ZADD', KEYS[5], prio, prio)
redis.call('ZADD', KEYS[3], 0, '0')
redis.call('ZREM', KEYS[6], id)
redis.call('HDEL', KEYS[7], id)
redis.call('HDEL', KEYS[8], id)
return 1
