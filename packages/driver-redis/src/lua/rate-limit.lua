--[[
  rate-limit: a token bucket refilled continuously from Redis TIME, shared by every process.

  KEYS[1] bucket    hash  {tokens, at}: tokens left (fractional) and when they were counted (ms)

  ARGV[1] limit: capacity, and tokens added per interval (> 0)
  ARGV[2] interval in ms (> 0)
  ARGV[3] cost: tokens to take; 0 only reads (peek) and writes nothing

  Returns: {granted (1/0), tokens left (floored), retryAfterMs (0 when granted)}.
  The key expires once the bucket would be full again, which is the same as a missing key.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local limit = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = limit
if state[1] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(limit, tonumber(state[1]) + elapsed * limit / interval)
end
if cost == 0 then return {0, math.floor(tokens), 0} end
local granted = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  granted = 1
else
  retry = math.ceil((cost - tokens) * interval / limit)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%.3f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((limit - tokens) * interval / limit) + 1000)
return {granted, math.floor(tokens), retry}
