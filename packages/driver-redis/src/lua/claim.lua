--[[
  Shared fragment, not a script of its own: placed after the promote fragment in reserve.lua and
  ack-and-claim.lua where their text says `-- @include claim`.

  A claim changes neither count of the job: `a` (failed runs) is counted by release.lua and `l`
  (lost deliveries) by reclaim() in the promote fragment, when an expired lease is recovered.

  Defines:
    leaseJob(id, leasedKey, jobPrefix, token, leaseMs, holder)
      stores the fencing token, the lease holder (`h`) and the claim time (`c`, the run's start)
      of a job taken out of the ready zset and leases it until now + leaseMs. Returns {id, body,
      attempt, lostDeliveries, leaseExpiresAt} where attempt = a + 1 and lostDeliveries = l, or
      nil when the job's hash is gone. A grouped job's lease is recorded in <base>gl:<group>
      (groups.lua), whichever claim takes it, so it counts against the group's limit.
    claimReady(readyKey, leasedKey, jobPrefix, token, leaseMs, holder)
      pops the next ready job (priority, then FIFO) and leases it (leaseJob); nil when none is ready.
    groupActive(base, group, leasedKey)
      how many jobs of `group` a claim leased that still hold an unexpired lease (per the
      leased zset, so an extended lease counts to its new expiry); drops the others from <base>gl:<group>
    claimReadyUpTo(readyKey, leasedKey, jobPrefix, tokenBase, leaseMs, holder, max, claimed)
      up to `max` jobs as claimReady would take them one by one, appended to `claimed` (5 values
      each) under the tokens `<tokenBase>:<n>`, with one ZPOPMIN and one ZADD to the leased zset
    claimGrouped(readyKey, leasedKey, jobPrefix, token, leaseMs, holder, groupConcurrency, block)
      on a queue that never had a grouped job, claimReady. Otherwise it goes through the lanes
      in <base>gring (groups fragment), least recently served first: the first that is the
      ungrouped lane or a group with fewer than groupConcurrency active jobs gives its next job
      (priority, then FIFO; entries no longer ready are dropped on the way), leased with
      leaseJob, and the lane is marked served (to the back of the turns, under a stamp of a block
      of `block` the script takes at its first grouped claim; a lane left empty leaves the
      ring). nil when no lane can give a job, or after 1,000 steps (lanes looked at and
      entries taken), so one claim's work stays bounded.
    groupConcurrencyOf(arg)
      a script argument's groupConcurrency: nil for '0' (claims without groups), else the number
    claimUpTo(readyKey, delayedKey, leasedKey, seqKey, markerKey, priosKey, pausedKey, jobPrefix, tokenBase, leaseMs, max, holder, groupConcurrency)
      claims nothing while pausedKey exists (nextAt -1: resume() sets the marker). Otherwise
      reclaims expired leases, promotes due delayed jobs, then claims up to `max` ready jobs with
      claimReadyUpTo (groupConcurrency nil) or claimGrouped, the n-th under the token
      `<tokenBase>:<n>`. When ready jobs remain it sets the marker, so another blocked reserver wakes.
      Returns {claimed, nextAt}: claimed holds 5 values per claimed job as claimReady returns
      them; nextAt is, when nothing was claimed, the epoch ms of the next delayed job or lease
      expiry (-1 when there is none, and -1 whenever a job was claimed).
]]
-- leaseJob without the leased zset's ZADD: `f` is the job's HMGET of b, a, l, k (body present).
local function markLeased(jk, id, f, jobPrefix, token, leaseMs, holder)
  -- Every lease of a grouped job counts against its group, whichever claim took it.
  if f[4] then redis.call('ZADD', groupBase(jobPrefix) .. 'gl:' .. f[4], fmt(now + tonumber(leaseMs)), id) end
  -- The counts are written when first counted (and a job stored before they existed has neither).
  local attempt = (tonumber(f[2]) or 0) + 1
  local lost = tonumber(f[3]) or 0
  redis.call('HSET', jk, 't', token, 'h', holder, 'c', fmt(now))
  return {id, f[1], attempt, lost, now + tonumber(leaseMs)}
end

local function leaseJob(id, leasedKey, jobPrefix, token, leaseMs, holder)
  local jk = jobPrefix .. id
  local f = redis.call('HMGET', jk, 'b', 'a', 'l', 'k')
  if not f[1] then return nil end
  local job = markLeased(jk, id, f, jobPrefix, token, leaseMs, holder)
  redis.call('ZADD', leasedKey, fmt(job[5]), id)
  return job
end

local function claimReady(readyKey, leasedKey, jobPrefix, token, leaseMs, holder)
  for _ = 1, 100 do
    local popped = redis.call('ZPOPMIN', readyKey)
    if #popped == 0 then return nil end
    local job = leaseJob(popped[1], leasedKey, jobPrefix, token, leaseMs, holder)
    if job then return job end
  end
  return nil
end

local function claimReadyUpTo(readyKey, leasedKey, jobPrefix, tokenBase, leaseMs, holder, max, claimed)
  local n = 0
  local leased = {}
  for _ = 1, 100 do
    if n >= max then break end
    local popped = redis.call('ZPOPMIN', readyKey, max - n)
    if #popped == 0 then break end
    for k = 1, #popped, 2 do
      local id = popped[k]
      local jk = jobPrefix .. id
      local f = redis.call('HMGET', jk, 'b', 'a', 'l', 'k')
      if f[1] then
        n = n + 1
        local job = markLeased(jk, id, f, jobPrefix, tokenBase .. ':' .. n, leaseMs, holder)
        for _, v in ipairs(job) do claimed[#claimed + 1] = v end
        leased[#leased + 1] = fmt(job[5])
        leased[#leased + 1] = id
      end
    end
  end
  for from = 1, #leased, 1000 do
    redis.call('ZADD', leasedKey, unpack(leased, from, math.min(from + 999, #leased)))
  end
end

local function groupActive(base, group, leasedKey)
  local key = base .. 'gl:' .. group
  local active = 0
  for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    local expires = redis.call('ZSCORE', leasedKey, id)
    if expires and tonumber(expires) > now then active = active + 1 else redis.call('ZREM', key, id) end
  end
  return active
end

-- Turn stamps this script hands out: a grouped claim of up to `block` jobs takes that many from
-- <base>gstamp with one INCRBY; stamps left unused are skipped, which keeps the order.
local stampNext, stampLast = 0, -1
local function nextStamp(base, block)
  if stampNext > stampLast then
    stampLast = redis.call('INCRBY', base .. 'gstamp', block)
    stampNext = stampLast - block + 1
  end
  stampNext = stampNext + 1
  return stampNext - 1
end

local function claimGrouped(readyKey, leasedKey, jobPrefix, token, leaseMs, holder, groupConcurrency, block)
  local base = groupBase(jobPrefix)
  if groupedQueue == nil then groupedQueue = redis.call('EXISTS', base .. 'grouped') == 1 end
  -- A queue that never had a grouped job has the ungrouped lane alone: the plain claim serves it.
  if not groupedQueue then return claimReady(readyKey, leasedKey, jobPrefix, token, leaseMs, holder) end
  local ring = base .. 'gring'
  local budget = 1000
  local start = 0
  -- The ring is read a few lanes at a time: the first lanes usually have room, and a claim runs
  -- this once per job it takes.
  local page = 8
  while budget > 0 do
    local lanes = redis.call('ZRANGE', ring, start, start + page - 1)
    page = math.min(page * 2, 128)
    if #lanes == 0 then return nil end
    local removed = 0
    for _, lane in ipairs(lanes) do
      budget = budget - 1
      if budget <= 0 then return nil end
      if lane == '' or groupActive(base, lane, leasedKey) < groupConcurrency then
        local key = laneKey(base, lane)
        while budget > 0 do
          budget = budget - 1
          local head = redis.call('ZPOPMIN', key)
          if #head == 0 then break end
          local id = head[1]
          -- An entry whose job left the ready zset (claimed without groups, cancelled, purged) is dropped.
          if redis.call('ZREM', readyKey, id) == 1 then
            local job = leaseJob(id, leasedKey, jobPrefix, token, leaseMs, holder)
            if job then
              local stamp = nextStamp(base, block)
              if redis.call('EXISTS', key) == 1 then redis.call('ZADD', ring, stamp, lane) else redis.call('ZREM', ring, lane) end
              return job
            end
          end
        end
        if redis.call('EXISTS', key) == 0 then
          redis.call('ZREM', ring, lane)
          removed = removed + 1
        end
      end
    end
    start = start + #lanes - removed
  end
  return nil
end

local function groupConcurrencyOf(arg)
  local n = tonumber(arg)
  if n and n >= 1 then return n end
  return nil
end

local function claimUpTo(readyKey, delayedKey, leasedKey, seqKey, markerKey, priosKey, pausedKey, jobPrefix, tokenBase, leaseMs, max, holder, groupConcurrency)
  if redis.call('EXISTS', pausedKey) == 1 then return {{}, -1} end
  reclaim(readyKey, leasedKey, priosKey, jobPrefix)
  promote(readyKey, delayedKey, seqKey, priosKey, jobPrefix)
  local claimed = {}
  if groupConcurrency then
    for n = 1, max do
      local job = claimGrouped(readyKey, leasedKey, jobPrefix, tokenBase .. ':' .. n, leaseMs, holder, groupConcurrency, max)
      if not job then break end
      for _, v in ipairs(job) do claimed[#claimed + 1] = v end
    end
  else
    claimReadyUpTo(readyKey, leasedKey, jobPrefix, tokenBase, leaseMs, holder, max, claimed)
  end
  if #claimed > 0 then
    if redis.call('ZCARD', readyKey) > 0 then redis.call('ZADD', markerKey, 0, '0') end
    return {claimed, -1}
  end
  local nextAt = -1
  local d = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if #d > 0 then nextAt = tonumber(d[2]) end
  local l = redis.call('ZRANGE', leasedKey, 0, 0, 'WITHSCORES')
  if #l > 0 and (nextAt == -1 or tonumber(l[2]) < nextAt) then nextAt = tonumber(l[2]) end
  return {claimed, nextAt}
end
