--[[
  Shared fragment, not a script of its own: placed where ack.lua, ack-and-claim.lua and cancel.lua
  say `-- @include finished`.

  A finished (completed or cancelled) job is kept as its record, the JSON text core made, stored as
  it is in a hash and indexed in a zset scored finish time (Redis TIME, ms) * 1024 + (sequence mod
  1024), so records of one millisecond keep their order. Pruning runs in the script that stores a
  record: the queue's records of that state older than ageMs, then the oldest beyond count. The
  keys expire ageMs after the last record stored, so a queue that stops finishing jobs does not
  keep its last ones for ever.

  Defines:
    keepFinished(zsetKey, infoKey, seqKey, nowMs, id, record)
      stores one record (replacing one of the same id)
    pruneFinished(zsetKey, infoKey, seqKey, nowMs, count, ageMs)
      deletes records older than ageMs, then the oldest beyond count (at most 1,000 of each per
      call: each store adds one, so a few calls catch up with a lowered bound), and sets the three
      keys to expire ageMs from now
]]
local function keepFinished(zsetKey, infoKey, seqKey, nowMs, id, record)
  local seq = redis.call('INCR', seqKey)
  redis.call('ZADD', zsetKey, string.format('%.0f', nowMs * 1024 + seq % 1024), id)
  redis.call('HSET', infoKey, id, record)
end

local function pruneFinished(zsetKey, infoKey, seqKey, nowMs, count, ageMs)
  local bound = '(' .. string.format('%.0f', (nowMs - ageMs) * 1024)
  local old = redis.call('ZRANGEBYSCORE', zsetKey, '-inf', bound, 'LIMIT', 0, 1000)
  if #old > 0 then
    redis.call('ZREM', zsetKey, unpack(old))
    redis.call('HDEL', infoKey, unpack(old))
  end
  local over = redis.call('ZCARD', zsetKey) - count
  if over > 0 then
    local ids = redis.call('ZRANGE', zsetKey, 0, math.min(over, 1000) - 1)
    redis.call('ZREMRANGEBYRANK', zsetKey, 0, #ids - 1)
    redis.call('HDEL', infoKey, unpack(ids))
  end
  redis.call('PEXPIRE', zsetKey, ageMs)
  redis.call('PEXPIRE', infoKey, ageMs)
  redis.call('PEXPIRE', seqKey, ageMs)
end
