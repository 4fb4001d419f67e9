--[[
  Shared fragment, not a script of its own: placed after the promote fragment in reserve.lua and
  ack-and-claim.lua where their text says `-- @include claim`.

  A claim changes neither count of the job: `a` (failed runs) is counted by release.lua and `l`
  (lost deliveries) by reclaim() in the promote fragment, when an expired lease is recovered.

  Defines:
    claimReady(readyKey, leasedKey, jobPrefix, token, leaseMs, holder)
      pops the next ready job (priority, then FIFO), stores the fencing token, the lease holder
      (`h`) and the claim time (`c`, the run's start) and leases the job until now + leaseMs.
      Returns {id, body, attempt, lostDeliveries, leaseExpiresAt} where attempt = a + 1 and
      lostDeliveries = l, or nil when no job is ready.
    claimUpTo(readyKey, delayedKey, leasedKey, seqKey, markerKey, priosKey, pausedKey, jobPrefix, tokenBase, leaseMs, max, holder)
      claims nothing while pausedKey exists (nextAt -1: resume() sets the marker). Otherwise
      reclaims expired leases, promotes due delayed jobs, then claims up to `max` ready jobs with
      claimReady, the n-th under the token `<tokenBase>:<n>`. When ready jobs remain it sets the
      marker, so another blocked reserver wakes.
      Returns {claimed, nextAt}: claimed holds 5 values per claimed job as claimReady returns
      them; nextAt is, when nothing was claimed, the epoch ms of the next delayed job or lease
      expiry (-1 when there is none, and -1 whenever a job was claimed).
]]
local function claimReady(readyKey, leasedKey, jobPrefix, token, leaseMs, holder)
  for _ = 1, 100 do
    local popped = redis.call('ZPOPMIN', readyKey)
    if #popped == 0 then return nil end
    local id = popped[1]
    local jk = jobPrefix .. id
    local f = redis.call('HMGET', jk, 'b', 'a', 'l')
    local body = f[1]
    if body then
      -- The counts are written when first counted (and a job stored before they existed has neither).
      local attempt = (tonumber(f[2]) or 0) + 1
      local lost = tonumber(f[3]) or 0
      local expires = now + tonumber(leaseMs)
      redis.call('HSET', jk, 't', token, 'h', holder, 'c', fmt(now))
      redis.call('ZADD', leasedKey, fmt(expires), id)
      return {id, body, attempt, lost, expires}
    end
  end
  return nil
end

local function claimUpTo(readyKey, delayedKey, leasedKey, seqKey, markerKey, priosKey, pausedKey, jobPrefix, tokenBase, leaseMs, max, holder)
  if redis.call('EXISTS', pausedKey) == 1 then return {{}, -1} end
  reclaim(readyKey, leasedKey, priosKey, jobPrefix)
  promote(readyKey, delayedKey, seqKey, priosKey, jobPrefix)
  local claimed = {}
  for n = 1, max do
    local job = claimReady(readyKey, leasedKey, jobPrefix, tokenBase .. ':' .. n, leaseMs, holder)
    if not job then break end
    for _, v in ipairs(job) do claimed[#claimed + 1] = v end
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
