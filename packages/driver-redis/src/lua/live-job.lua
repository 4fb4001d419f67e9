--[[
  Shared fragment, not a script of its own: placed where job-get.lua and job-list.lua say
  `-- @include live-job`.

  Defines:
    liveJob(jobPrefix, id, state, score)
      what a lookup needs of a live job, or nil when its hash is gone: {id, state, body, a (failed
      runs), g (progress JSON), r (ready since), h (lease holder), c (claimed at), score (the due
      time of a delayed job, the lease expiry of an active one), t (fencing token)}, each missing
      field as '' (a for 0), since a nil would cut the reply short.
]]
local function liveJob(jobPrefix, id, state, score)
  local f = redis.call('HMGET', jobPrefix .. id, 'b', 'a', 'g', 'r', 'h', 'c', 't')
  if not f[1] then return nil end
  return {id, state, f[1], f[2] or '0', f[3] or '', f[4] or '', f[5] or '', f[6] or '', score or '', f[7] or ''}
end
