--[[
  Shared fragment, not a script of its own: it is placed at the top of reserve.lua and stats.lua
  where their text says `-- @include promote` (also in ack-and-claim.lua).

  Defines:
    now       Redis TIME in epoch ms (integer)
    fmt(n)    an integer as a decimal string (Lua's tostring loses digits above 1e14)
    promote(readyKey, delayedKey, seqKey, priosKey, jobPrefix)
              moves delayed jobs whose due time has passed into the ready set (at most 1,000 per
              call), each at the back of its priority band, and records their due time as the
              moment they became ready
    reclaim(readyKey, leasedKey, priosKey, jobPrefix)
              moves jobs whose lease ran out back to the front of their priority band (at most
              1,000 per call), counts a lost delivery on each (HINCRBY l: the holder never
              settled it), and clears their fencing token, so the old holder's settle calls fail
  Both index a grouped job in its lane as well (groups fragment, included here).
  Score of a ready job: priority * 2^32 + sequence, so ZPOPMIN yields priority, then FIFO.
]]
-- @include groups
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local BAND = 4294967296

local function fmt(n)
  return string.format('%.0f', n)
end

local function promote(readyKey, delayedKey, seqKey, priosKey, jobPrefix)
  local due = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1000)
  if #due == 0 then return 0 end
  local n = #due / 2
  local seq = redis.call('INCRBY', seqKey, n) - n
  local ids = {}
  for i = 1, #due, 2 do
    local id = due[i]
    local jk = jobPrefix .. id
    local pk = redis.call('HMGET', jk, 'p', 'k')
    local p = pk[1]
    if p then
      seq = seq + 1
      local score = fmt(tonumber(p) * BAND + seq)
      redis.call('HSET', jk, 's', score, 'r', due[i + 1])
      redis.call('ZADD', readyKey, score, id)
      redis.call('ZADD', priosKey, p, p)
      groupReady(jobPrefix, id, score, pk[2])
    end
    ids[#ids + 1] = id
  end
  redis.call('ZREM', delayedKey, unpack(ids))
  return #ids
end

local function reclaim(readyKey, leasedKey, priosKey, jobPrefix)
  local expired = redis.call('ZRANGEBYSCORE', leasedKey, '-inf', now, 'LIMIT', 0, 1000)
  if #expired == 0 then return 0 end
  for _, id in ipairs(expired) do
    local jk = jobPrefix .. id
    local fields = redis.call('HMGET', jk, 's', 'p', 'k')
    if fields[1] then
      redis.call('HSET', jk, 't', '', 'r', fmt(now))
      redis.call('HINCRBY', jk, 'l', 1)
      redis.call('ZADD', readyKey, fields[1], id)
      redis.call('ZADD', priosKey, fields[2], fields[2])
      groupReady(jobPrefix, id, fields[1], fields[3])
    end
  end
  redis.call('ZREM', leasedKey, unpack(expired))
  return #expired
end
