--[[
  Shared fragment, not a script of its own: placed at the top of promote.lua (so in every script
  that includes promote) and where push.lua, release.lua, give-back.lua, postpone.lua and
  dead-retry.lua say `-- @include groups`.

  Job groups (see claim.lua, claimGrouped). A grouped job (job hash field `k`, its group) stays in
  the queue's ready zset like any other, so stats, lookups, purge, the marker and claims without
  groupConcurrency see it as before; a grouped claim finds jobs through per-lane indexes, every key
  under the queue's hash tag (`<base>` = `<prefix>:{<queue>}:`):
    <base>g:<group>   zset  the group's ready job ids, scored like ready
    <base>gu          zset  the ungrouped ready job ids, kept only once the queue had a grouped job
                            (<base>grouped exists), so a queue without groups pays nothing for it
    <base>gring       zset  lane ('' = ungrouped, else the group) -> when it was last served (the
                            <base>gstamp counter, raised at each grouped claim), for the lanes with
                            an indexed job; a lane that enters the ring counts as served at the
                            last claim, so it waits at most one round. A lane is dropped when a
                            claim finds it empty (a queue may have any number of groups): one its
                            last job left stays until the claims' walk next reaches it
    <base>gl:<group>  zset  ids of the group's jobs a claim leased (see claim.lua, markLeased, groupActive)
  The lane indexes are added to wherever a job becomes ready and are pruned lazily: a grouped
  claim drops an entry whose job is no longer in the ready zset (claimed without groups,
  cancelled, purged), so the scripts where a job stops being ready do not change.

  Defines:
    groupBase(jobPrefix)   `<base>` from the job key prefix `<base>j:`
    groupReady(jobPrefix, id, score, group)
                           indexes a job that became ready under `score` in its lane (group false or
                           '' for an ungrouped job, indexed only once the queue had a grouped job)
    markGrouped(jobPrefix, readyKey)
                           before a queue's first grouped job is stored: marks the queue and indexes
                           its ready jobs (all ungrouped then) in the ungrouped lane
    groupLeaseEnded(jobPrefix, id, group)
                           after the lease of a job ended with the job (ack, dead letter, cancel):
                           for a grouped job, drops it from <base>gl:<group> and sets the queue's
                           marker while it has ready jobs, so a blocked grouped claim that found the
                           group at its limit looks again
]]
local groupedQueue

local function groupBase(jobPrefix)
  return string.sub(jobPrefix, 1, -3)
end

local function laneKey(base, lane)
  if lane == '' then return base .. 'gu' end
  return base .. 'g:' .. lane
end

local function enterRing(base, lane)
  local ring = base .. 'gring'
  if redis.call('ZSCORE', ring, lane) == false then
    redis.call('ZADD', ring, redis.call('GET', base .. 'gstamp') or 0, lane)
  end
end

local function groupReady(jobPrefix, id, score, group)
  local base = groupBase(jobPrefix)
  local lane = group or ''
  if lane == '' then
    if groupedQueue == nil then groupedQueue = redis.call('EXISTS', base .. 'grouped') == 1 end
    if not groupedQueue then return end
  end
  redis.call('ZADD', laneKey(base, lane), score, id)
  enterRing(base, lane)
end

local function markGrouped(jobPrefix, readyKey)
  local base = groupBase(jobPrefix)
  if groupedQueue == nil then groupedQueue = redis.call('EXISTS', base .. 'grouped') == 1 end
  if groupedQueue then return end
  redis.call('SET', base .. 'grouped', '1')
  groupedQueue = true
  if redis.call('ZUNIONSTORE', base .. 'gu', 1, readyKey) > 0 then enterRing(base, '') end
end

-- Whether this script set the marker for an ended group lease already: the scripts that end
-- leases do not make jobs ready before they do, so once is enough for all of them.
local groupMarkerSet = false

local function groupLeaseEnded(jobPrefix, id, group)
  if not group or group == '' then return end
  local base = groupBase(jobPrefix)
  redis.call('ZREM', base .. 'gl:' .. group, id)
  if groupMarkerSet then return end
  groupMarkerSet = true
  if redis.call('EXISTS', base .. 'ready') == 1 then redis.call('ZADD', base .. 'marker', 0, '0') end
end
