--[[
  stats: counts of one queue after promoting delayed jobs that came due, so `ready` is exact.

  KEYS[1] ready     zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed   zset  id -> due time
  KEYS[3] leased    zset  id -> lease expiry
  KEYS[4] seq       string, FIFO sequence counter
  KEYS[5] prios     zset  of priorities in use
  KEYS[6] dead      zset  id -> failedAt * 1024 + (sequence mod 1024)
  KEYS[7] paused    string, present while claims are paused
  KEYS[8] completed-info  hash  id -> record of each completed job kept

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`

  Returns: {ready, delayed, reserved, dead, oldestReadyAt (epoch ms, -1 when none is ready),
  paused (1 or 0), completed (records kept)}.
  The oldest ready job is the head of some priority band (bands are FIFO), so only the band heads
  are read; bands found empty are dropped from KEYS[5].
]]
-- @include promote
local jobPrefix = ARGV[1]
promote(KEYS[1], KEYS[2], KEYS[4], KEYS[5], jobPrefix)
local oldest = -1
for _, p in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do
  local lo = tonumber(p) * BAND
  local head = redis.call('ZRANGEBYSCORE', KEYS[1], fmt(lo), '(' .. fmt(lo + BAND), 'LIMIT', 0, 1)
  if #head == 0 then
    redis.call('ZREM', KEYS[5], p)
  else
    local r = tonumber(redis.call('HGET', jobPrefix .. head[1], 'r'))
    if r and (oldest == -1 or r < oldest) then oldest = r end
  end
end
return {
  redis.call('ZCARD', KEYS[1]),
  redis.call('ZCARD', KEYS[2]),
  redis.call('ZCARD', KEYS[3]),
  redis.call('ZCARD', KEYS[6]),
  oldest,
  redis.call('EXISTS', KEYS[7]),
  redis.call('HLEN', KEYS[8]),
}
