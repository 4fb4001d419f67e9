--[[
  Shared fragment, not a script of its own: placed after the promote fragment in reserve.lua and
  ack-batch.lua where their text says `-- @include claim`.

  Defines:
    claimReady(readyKey, leasedKey, markerKey, jobPrefix, token, leaseMs)
      pops the next ready job (priority, then FIFO), counts the delivery (HINCRBY d), stores the
      fencing token and leases the job until now + leaseMs; sets the marker when ready jobs remain.
      Returns {id, body, deliveries, leaseExpiresAt}, or nil when no job is ready.
    claim(readyKey, delayedKey, leasedKey, seqKey, markerKey, priosKey, jobPrefix, token, leaseMs)
      reclaims expired leases, promotes due delayed jobs, then pops the next ready job (priority,
      then FIFO), counts the delivery (HINCRBY d), stores the fencing token and leases the job
      until now + leaseMs. When ready jobs remain it sets the marker so another blocked reserver
      wakes.
      Returns {1, id, body, deliveries, leaseExpiresAt, now} when it claimed a job, or
      {0, nextAt, now} where nextAt is the epoch ms of the next delayed job or lease expiry
      (-1 when there is none).
]]
local function claimReady(readyKey, leasedKey, markerKey, jobPrefix, token, leaseMs)
  for _ = 1, 100 do
    local popped = redis.call('ZPOPMIN', readyKey)
    if #popped == 0 then return nil end
    local id = popped[1]
    local jk = jobPrefix .. id
    local f = redis.call('HMGET', jk, 'b', 'd')
    local body = f[1]
    if body then
      local deliveries = tonumber(f[2]) + 1
      local expires = now + tonumber(leaseMs)
      redis.call('HSET', jk, 't', token, 'd', deliveries)
      redis.call('ZADD', leasedKey, fmt(expires), id)
      if redis.call('ZCARD', readyKey) > 0 then redis.call('ZADD', markerKey, 0, '0') end
      return {id, body, deliveries, expires}
    end
  end
  return nil
end

local function claim(readyKey, delayedKey, leasedKey, seqKey, markerKey, priosKey, jobPrefix, token, leaseMs)
  reclaim(readyKey, leasedKey, priosKey, jobPrefix)
  promote(readyKey, delayedKey, seqKey, priosKey, jobPrefix)
  local job = claimReady(readyKey, leasedKey, markerKey, jobPrefix, token, leaseMs)
  if job then return {1, job[1], job[2], job[3], job[4], now} end
  local nextAt = -1
  local d = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if #d > 0 then nextAt = tonumber(d[2]) end
  local l = redis.call('ZRANGE', leasedKey, 0, 0, 'WITHSCORES')
  if #l > 0 and (nextAt == -1 or tonumber(l[2]) < nextAt) then nextAt = tonumber(l[2]) end
  return {0, nextAt, now}
end
