--[[
  resume: lets claims take jobs from a paused queue again, and sets the marker so that reserves
  blocked on it (in any process) wake and claim. Resuming a queue that is not paused changes
  nothing.

  KEYS[1] paused    string, present while claims are paused
  KEYS[2] marker    zset, wakes blocked reservers

  Returns: 1 resumed, 0 it was not paused.
]]
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 0, '0')
return 1
