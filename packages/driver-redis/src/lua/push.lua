--[[
  push: stores jobs of one queue, ready or delayed, in one atomic step.

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed   zset  id -> due time (epoch ms)
  KEYS[3] seq       string, the queue's FIFO sequence counter
  KEYS[4] marker    zset, wakes blocked reservers (member '0')
  KEYS[5] unique    hash  uniqueKey -> id of the job holding it
  KEYS[6] prios     zset  of priorities that have had ready jobs (for the oldest-ready statistic)

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:` (one hash per job)
  ARGV[2] n, the number of jobs
  then 6 values per job: id, priority, availableAt (epoch ms), uniqueKey ('' for none), group ('' for
  none), body

  Job hash fields: b body, p priority, u uniqueKey, k group (absent for none; see groups.lua), s ready score, r ready since (epoch ms), t
  fencing token of the current lease ('' when not leased); a attempts (failed runs, counted by
  release) and l lost deliveries (expired leases, counted by reclaim) are written only when first
  counted: a job without them has 0 of each.

  Returns: an array with one entry per job: 1 stored, 0 skipped (its unique key is held by a
  queued, delayed or reserved job, or a job with the same id exists).
]]
-- @include groups
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local BAND = 4294967296
local jobPrefix = ARGV[1]
local n = tonumber(ARGV[2])
local seq = redis.call('INCRBY', KEYS[3], n) - n
for i = 0, n - 1 do
  if ARGV[3 + i * 6 + 4] ~= '' then
    markGrouped(jobPrefix, KEYS[1])
    break
  end
end
local out = {}
local ready = {}
local delayed = {}
local prios = {}
for i = 0, n - 1 do
  local b = 3 + i * 6
  local id, prio, at, uk, group, body = ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2]), ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  local jk = jobPrefix .. id
  if (uk ~= '' and redis.call('HEXISTS', KEYS[5], uk) == 1) or redis.call('EXISTS', jk) == 1 then
    out[i + 1] = 0
  else
    if uk ~= '' then redis.call('HSET', KEYS[5], uk, id) end
    if group ~= '' then redis.call('HSET', jk, 'k', group) end
    if at > now then
      redis.call('HSET', jk, 'b', body, 'p', prio, 'u', uk, 't', '')
      delayed[#delayed + 1] = string.format('%.0f', at)
      delayed[#delayed + 1] = id
    else
      seq = seq + 1
      local score = string.format('%.0f', tonumber(prio) * BAND + seq)
      redis.call('HSET', jk, 'b', body, 'p', prio, 'u', uk, 't', '', 's', score, 'r', now)
      ready[#ready + 1] = score
      ready[#ready + 1] = id
      prios[prio] = true
      groupReady(jobPrefix, id, score, group)
    end
    out[i + 1] = 1
  end
end
if #ready > 0 then
  redis.call('ZADD', KEYS[1], unpack(ready))
  for p in pairs(prios) do redis.call('ZADD', KEYS[6], p, p) end
end
if #delayed > 0 then redis.call('ZADD', KEYS[2], unpack(delayed)) end
if #ready > 0 or #delayed > 0 then redis.call('ZADD', KEYS[4], 0, '0') end
return out
