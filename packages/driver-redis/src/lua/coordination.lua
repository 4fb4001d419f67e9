--[[
  coordination: the coordination store's atomic steps on one key (a counter or a leased key).

  KEYS[1] the key, `<prefix>:co:{<key>}`: a string (counter value, or lease owner)

  ARGV[1] operation:
    'incr'    ARGV[2] window ms: INCR; the first increment sets the expiry (a fixed window).
              Returns the new count.
    'acquire' ARGV[2] owner, ARGV[3] ttl ms: taken when free or held by the owner (renewed).
              Returns 1 held, 0 held by another owner.
    'release' ARGV[2] owner: deleted when held by the owner. Returns 1 freed, 0 not held by it.
]]
local op = ARGV[1]
if op == 'incr' then
  local n = redis.call('INCR', KEYS[1])
  if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  return n
elseif op == 'acquire' then
  local holder = redis.call('GET', KEYS[1])
  if holder == false or holder == ARGV[2] then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
  end
  return 0
elseif op == 'release' then
  if redis.call('GET', KEYS[1]) == ARGV[2] then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end
return redis.error_reply('coordination: unknown operation ' .. tostring(op))
