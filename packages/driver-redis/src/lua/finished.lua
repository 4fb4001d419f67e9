--[[
  Shared fragment, not a script of its own: placed where ack.lua, ack-and-claim.lua and cancel.lua
  say `-- @include finished`.

  A finished (completed or cancelled) job is kept as its record, the JSON text core made, stored as
  it is in a hash and indexed in a zset scored finish time (Redis TIME, ms) * 1024, raised above the
  newest score kept when that is higher, so records of one millisecond (or of a clock that stepped
  back) keep their order. Pruning runs in the script that stores records: the queue's records of
  that state older than ageMs, then the oldest beyond count. Both keys expire between ageMs and
  ageMs + 1 s after the last record stored, so a queue that stops finishing jobs does not keep its
  last ones for ever.

  Defines:
    finishedScore(zsetKey, nowMs)
      the score of the next record stored in zsetKey (add 1 for each further one of the same call),
      and the time (ms) of the newest record kept before it (nil when there is none)
    keepFinished(zsetKey, infoKey, score, id, record)
      stores one record under `score` (replacing one of the same id)
    callInChunks(command, key, values)
      runs `command key ...values` (`command ...values` when key is false) once per 1,000 values
      (an even number, for pairs): one redis.call for many members costs far less than one each
    keepFinishedMany(zsetKey, infoKey, scored, records)
      stores many: `scored` holds score, id pairs and `records` id, record pairs, in one ZADD and one
      HSET per 500 records
    pruneFinished(zsetKey, infoKey, nowMs, count, ageMs, step, newestBeforeMs)
      deletes records older than ageMs, then, once `step` or more are kept beyond count, the oldest
      beyond count (so a queue holds up to count + step - 1 at times, and the pops are batched);
      at most 1,000 of each per call (each store adds one, so a few calls catch up with a lowered
      bound); sets both keys to expire ageMs + 1 s from now, once per second of stores: when the
      newest record before this call (newestBeforeMs, from finishedScore) is of another second
      than now, or there was none. A store later in the same second leaves the expiry set in it,
      which is at most 1 s older, so the keys still outlive its record by ageMs
]]
local function finishedScore(zsetKey, nowMs)
  local score = nowMs * 1024
  local top = redis.call('ZRANGE', zsetKey, -1, -1, 'WITHSCORES')
  if #top == 0 then return score, nil end
  local newest = tonumber(top[2])
  if newest >= score then score = newest + 1 end
  return score, math.floor(newest / 1024)
end

local function keepFinished(zsetKey, infoKey, score, id, record)
  redis.call('ZADD', zsetKey, string.format('%.0f', score), id)
  redis.call('HSET', infoKey, id, record)
end

local function callInChunks(command, key, values)
  for from = 1, #values, 1000 do
    local to = math.min(from + 999, #values)
    if key then
      redis.call(command, key, unpack(values, from, to))
    else
      redis.call(command, unpack(values, from, to))
    end
  end
end

local function keepFinishedMany(zsetKey, infoKey, scored, records)
  callInChunks('ZADD', zsetKey, scored)
  callInChunks('HSET', infoKey, records)
end

local function pruneFinished(zsetKey, infoKey, nowMs, count, ageMs, step, newestBeforeMs)
  local bound = '(' .. string.format('%.0f', (nowMs - ageMs) * 1024)
  local old = redis.call('ZRANGEBYSCORE', zsetKey, '-inf', bound, 'LIMIT', 0, 1000)
  if #old > 0 then
    redis.call('ZREM', zsetKey, unpack(old))
    redis.call('HDEL', infoKey, unpack(old))
  end
  local over = redis.call('ZCARD', zsetKey) - count
  if over >= step then
    local popped = redis.call('ZPOPMIN', zsetKey, math.min(over, 1000))
    local ids = {}
    for k = 1, #popped, 2 do ids[#ids + 1] = popped[k] end
    redis.call('HDEL', infoKey, unpack(ids))
  end
  if newestBeforeMs == nil or math.floor(newestBeforeMs / 1000) ~= math.floor(nowMs / 1000) then
    redis.call('PEXPIRE', zsetKey, ageMs + 1000)
    redis.call('PEXPIRE', infoKey, ageMs + 1000)
  end
end
