--[[
  Shared fragment, not a script of its own: placed where ack.lua, ack-and-claim.lua, cancel.lua
  and job-list.lua say `-- @include finished`, after the chunks fragment.

  A finished (completed or cancelled) job is kept as its record, the JSON text core made, stored as
  it is in a hash (id -> record: lookups, and whether a job was cancelled), and indexed in a list
  of ids in the order they were stored, oldest first (scripts run one at a time, so that is the
  order they finished in). Pruning runs in the scripts that store records: the oldest beyond the
  count, once `step` or more are kept beyond it, then, once per second of stores, those older than
  ageMs by their record's finishedAt (the clock of the worker that finished the job). Both keys
  expire between ageMs and ageMs + 1 s after the last record stored, so a queue that stops
  finishing jobs does not keep its last ones for ever.

  Records indexed by an earlier version of this driver in a zset (`old`, scored finish time * 1024)
  are moved into the list, in their order, by the first script here that finds that zset.

  Defines:
    adoptOldIndex(oldKey, listKey)
      moves the ids of the zset oldKey, if there is one, to the front of the list listKey (oldest
      first) and deletes it
    keepFinishedMany(listKey, infoKey, ids, records)
      stores many: `ids` in finish order, `records` id, record pairs, with one RPUSH and one HSET per
      1,000 values; a record that replaces one of the same id (a job id used again) leaves one
      entry of it in the list, at its new place
    pruneFinished(listKey, infoKey, nowMs, count, ageMs, step)
      deletes the oldest records beyond count once `step` or more are kept beyond it (so a queue
      holds up to count + step - 1 at times, and the deletes are batched), at most 1,000 per call
      (each store adds some, so a few calls catch up with a lowered bound); then, when the keys'
      expiry was set a second ago or more (or never), sets both to expire ageMs + 1 s from now and
      deletes the records finished more than ageMs ago from the front of the list (at most 1,000)
]]
local function adoptOldIndex(oldKey, listKey)
  if redis.call('EXISTS', oldKey) == 0 then return end
  -- Newest first, each pushed to the front: the oldest ends up first.
  callInChunks('LPUSH', listKey, redis.call('ZREVRANGE', oldKey, 0, -1))
  redis.call('DEL', oldKey)
end

local function keepFinishedMany(listKey, infoKey, ids, records)
  callInChunks('RPUSH', listKey, ids)
  if callInChunks('HSET', infoKey, records) == #ids then return end
  -- Some replaced a record of the same id: drop the earlier entry of each id listed twice.
  for _, id in ipairs(ids) do
    if #redis.call('LPOS', listKey, id, 'COUNT', 2) > 1 then redis.call('LREM', listKey, 1, id) end
  end
end

-- The finish time (epoch ms) of a record (a positional array, or an object of an earlier format).
local function finishedAtOf(record)
  local ok, value = pcall(cjson.decode, record)
  if not ok or type(value) ~= 'table' then return nil end
  if value[1] ~= nil then return tonumber(value[10]) end
  return tonumber(value.finishedAt)
end

local function pruneFinished(listKey, infoKey, nowMs, count, ageMs, step)
  local over = redis.call('LLEN', listKey) - count
  if over >= step then
    local ids = redis.call('LPOP', listKey, math.min(over, 1000))
    redis.call('HDEL', infoKey, unpack(ids))
  end
  -- PTTL is -1 (no expiry) or -2 (no key) when none was set: never above ageMs.
  if redis.call('PTTL', listKey) > ageMs then return end
  redis.call('PEXPIRE', listKey, ageMs + 1000)
  redis.call('PEXPIRE', infoKey, ageMs + 1000)
  local cutoff = nowMs - ageMs
  local old = 0
  for from = 0, 900, 100 do
    local ids = redis.call('LRANGE', listKey, from, from + 99)
    if #ids == 0 then break end
    local records = redis.call('HMGET', infoKey, unpack(ids))
    local page = 0
    for k = 1, #ids do
      local at = records[k] and finishedAtOf(records[k])
      -- An entry without a record (its record replaced under the same id, or lost) goes too.
      if records[k] and (at == nil or at >= cutoff) then break end
      page = page + 1
    end
    old = old + page
    if page < #ids then break end
  end
  if old > 0 then
    local ids = redis.call('LPOP', listKey, old)
    redis.call('HDEL', infoKey, unpack(ids))
  end
end
