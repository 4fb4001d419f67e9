--[[
  Shared fragment, not a script of its own: placed after the chunks and promote fragments in
  reserve.lua and ack-and-claim.lua where their text says `-- @include claim`.

  A claim changes neither count of the job: `a` (failed runs) is counted by release.lua and `l`
  (lost deliveries) by reclaim() in the promote fragment, when an expired lease is recovered.

  Defines:
    markLeased(jk, id, f, jobPrefix, token, leaseMs, holder)
      stores the fencing token, the lease holder (`h`) and the claim time (`c`, the run's start)
      of a job taken out of the ready zset (`f`: its HMGET of b, a, l, k), and returns {id, body,
      attempt, lostDeliveries, leaseExpiresAt} where attempt = a + 1 and lostDeliveries = l. The
      caller adds it to the leased zset. A grouped job's lease is recorded in <base>gl:<group>
      (groups.lua), whichever claim takes it, so it counts against the group's limit.
    claimReadyUpTo(readyKey, leasedKey, jobPrefix, tokenBase, leaseMs, holder, max, claimed)
      up to `max` ready jobs (priority, then FIFO), appended to `claimed` (5 values each) under
      the tokens `<tokenBase>:<n>`, with one ZPOPMIN and one ZADD to the leased zset
    groupActive(base, group, leasedKey, leasedHere)
      how many jobs of `group` a claim leased that still hold an unexpired lease (per the leased
      zset, so an extended lease counts to its new expiry, or per `leasedHere`, id -> lease
      expiry of the jobs this script leased and has not added to the leased zset yet); drops the
      others from <base>gl:<group>
    claimGroupedUpTo(readyKey, leasedKey, jobPrefix, tokenBase, leaseMs, holder, groupConcurrency, max, claimed)
      on a queue that never had a grouped job, claimReadyUpTo. Otherwise up to `max` jobs taken
      lane by lane through <base>gring (groups fragment), least recently served first: a lane
      that is the ungrouped lane or a group with fewer than groupConcurrency active jobs gives
      its next job (priority, then FIFO; entries no longer ready are dropped on the way), and is
      marked served (to the back of the turns, under a stamp of the block of `max` the script
      takes at its first grouped claim), so the next job comes from the next lane. The walk goes
      on from where the last job was taken rather than from the front again: no lane ahead of it
      can have gained room or jobs within this script (its acks ran before it claims), and lanes
      served move behind every lane not yet looked at. A lane found empty leaves the ring; one
      left empty by its last job stays until the walk next reaches it (not checked on every job).
      Stops after 1,000 steps (lanes looked at and entries taken), so one claim's work stays
      bounded. The claimed jobs are added to the leased zset with one ZADD, and the turns to the
      ring with one ZADD when the walk reaches the ring's end or the claim is done.
    groupConcurrencyOf(arg)
      a script argument's groupConcurrency: nil for '0' (claims without groups), else the number
    claimUpTo(readyKey, delayedKey, leasedKey, seqKey, markerKey, priosKey, pausedKey, jobPrefix, tokenBase, leaseMs, max, holder, groupConcurrency)
      claims nothing while pausedKey exists (nextAt -1: resume() sets the marker). Otherwise
      reclaims expired leases, promotes due delayed jobs, then claims up to `max` ready jobs with
      claimReadyUpTo (groupConcurrency nil) or claimGroupedUpTo, the n-th under the token
      `<tokenBase>:<n>`. When ready jobs remain it sets the marker, so another blocked reserver wakes.
      Returns {claimed, nextAt}: claimed holds 5 values per claimed job as markLeased returns
      them; nextAt is, when nothing was claimed, the epoch ms of the next delayed job or lease
      expiry (-1 when there is none, and -1 whenever a job was claimed).
]]
local function markLeased(jk, id, f, jobPrefix, token, leaseMs, holder)
  -- Every lease of a grouped job counts against its group, whichever claim took it.
  if f[4] then redis.call('ZADD', groupBase(jobPrefix) .. 'gl:' .. f[4], fmt(now + tonumber(leaseMs)), id) end
  -- The counts are written when first counted (and a job stored before they existed has neither).
  local attempt = (tonumber(f[2]) or 0) + 1
  local lost = tonumber(f[3]) or 0
  redis.call('HSET', jk, 't', token, 'h', holder, 'c', fmt(now))
  return {id, f[1], attempt, lost, now + tonumber(leaseMs)}
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
  callInChunks('ZADD', leasedKey, leased)
end

local function groupActive(base, group, leasedKey, leasedHere)
  local key = base .. 'gl:' .. group
  local active = 0
  for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    local expires = leasedHere[id] or redis.call('ZSCORE', leasedKey, id)
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

-- The next job of lane `key` that is still ready, leased under `token`, or nil when the lane ran
-- out (empty: true) or the budget did; entries whose job left the ready zset (claimed without
-- groups, cancelled, purged) are dropped on the way.
local function takeFromLane(key, readyKey, jobPrefix, token, leaseMs, holder, budget)
  while budget > 0 do
    budget = budget - 1
    local head = redis.call('ZPOPMIN', key)
    if #head == 0 then return nil, budget, true end
    local id = head[1]
    if redis.call('ZREM', readyKey, id) == 1 then
      local jk = jobPrefix .. id
      local f = redis.call('HMGET', jk, 'b', 'a', 'l', 'k')
      if f[1] then return markLeased(jk, id, f, jobPrefix, token, leaseMs, holder), budget, false end
    end
  end
  return nil, budget, false
end

local function claimGroupedUpTo(readyKey, leasedKey, jobPrefix, tokenBase, leaseMs, holder, groupConcurrency, max, claimed)
  local base = groupBase(jobPrefix)
  if groupedQueue == nil then groupedQueue = redis.call('EXISTS', base .. 'grouped') == 1 end
  -- A queue that never had a grouped job has the ungrouped lane alone: the plain claim serves it.
  if not groupedQueue then return claimReadyUpTo(readyKey, leasedKey, jobPrefix, tokenBase, leaseMs, holder, max, claimed) end
  local ring = base .. 'gring'
  local budget = 1000
  local n = 0
  local leased, leasedHere = {}, {}
  -- The ring's changes wait until the walk reaches its end (or the claim is done): `served` holds
  -- stamp, lane pairs of the lanes served (to the back, in the order served), `gone` the lanes
  -- found empty. Until then every lane looked at is still in place, so pages are read at `start`,
  -- the lanes looked at; `stayed` counts those that stay in place once the changes are made.
  local served, gone = {}, {}
  local lanes, index, start, stayed, page = {}, 1, 0, 0, 8
  local function applyTurns()
    callInChunks('ZADD', ring, served)
    callInChunks('ZREM', ring, gone)
    served, gone = {}, {}
    start = stayed
  end
  while n < max and budget > 0 do
    if index > #lanes then
      lanes = redis.call('ZRANGE', ring, start, start + page - 1)
      index = 1
      page = math.min(page * 2, 128)
      if #lanes == 0 then
        -- The end of the ring: the lanes served come next, behind it, once their turns are recorded.
        if #served == 0 and #gone == 0 then break end
        applyTurns()
        lanes = redis.call('ZRANGE', ring, start, start + page - 1)
        if #lanes == 0 then break end
      end
    end
    local lane = lanes[index]
    index = index + 1
    start = start + 1
    budget = budget - 1
    local stays = true
    if lane == '' or groupActive(base, lane, leasedKey, leasedHere) < groupConcurrency then
      local job, empty
      job, budget, empty = takeFromLane(laneKey(base, lane), readyKey, jobPrefix, tokenBase .. ':' .. (n + 1), leaseMs, holder, budget)
      if job then
        n = n + 1
        for _, v in ipairs(job) do claimed[#claimed + 1] = v end
        leased[#leased + 1] = fmt(job[5])
        leased[#leased + 1] = job[1]
        leasedHere[job[1]] = job[5]
        served[#served + 1] = nextStamp(base, max)
        served[#served + 1] = lane
        stays = false
      elseif empty then
        gone[#gone + 1] = lane
        stays = false
      end
    end
    if stays then stayed = stayed + 1 end
  end
  applyTurns()
  callInChunks('ZADD', leasedKey, leased)
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
    claimGroupedUpTo(readyKey, leasedKey, jobPrefix, tokenBase, leaseMs, holder, groupConcurrency, max, claimed)
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
