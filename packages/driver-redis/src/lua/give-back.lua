--[[
  give-back: hands back jobs of one queue that were claimed and not run, as if never claimed:
  each goes back to the front of its priority band (its stored ready score `s`, so it keeps its
  FIFO place), its token is cleared, and neither count (`a` failed runs, `l` lost deliveries)
  changes. A job whose claim no longer holds (lease reclaimed, job settled or gone) is skipped.

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] leased    zset  id -> lease expiry
  KEYS[3] marker    zset, wakes blocked reservers
  KEYS[4] prios     zset  of priorities in use

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`
  then 2 values per job: id, fencing token of its claim

  Returns: how many jobs were given back.
]]
-- @include groups
local jobPrefix = ARGV[1]
local given = 0
local i = 2
while ARGV[i] do
  local id, token = ARGV[i], ARGV[i + 1]
  local jk = jobPrefix .. id
  local f = redis.call('HMGET', jk, 't', 's', 'p', 'k')
  if token ~= '' and f[1] == token and f[2] and redis.call('ZSCORE', KEYS[2], id) ~= false then
    redis.call('ZREM', KEYS[2], id)
    redis.call('HSET', jk, 't', '')
    redis.call('ZADD', KEYS[1], f[2], id)
    redis.call('ZADD', KEYS[4], f[3], f[3])
    groupReady(jobPrefix, id, f[2], f[4])
    given = given + 1
  end
  i = i + 2
end
if given > 0 then redis.call('ZADD', KEYS[3], 0, '0') end
return given
