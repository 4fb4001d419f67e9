--[[
  Shared fragment, not a script of its own: placed first where reserve.lua, ack.lua,
  ack-and-claim.lua, cancel.lua and job-list.lua say `-- @include chunks` (the claim and finished
  fragments use it).

  Defines:
    callInChunks(command, key, values)
      runs `command key ...values` (`command ...values` when key is false) once per 1,000 values
      (an even number, for pairs): one redis.call for many members costs far less than one each;
      returns the sum of the calls' replies (0 for a command whose reply is not a number)
]]
local function callInChunks(command, key, values)
  local sum = 0
  for from = 1, #values, 1000 do
    local to = math.min(from + 999, #values)
    local reply
    if key then
      reply = redis.call(command, key, unpack(values, from, to))
    else
      reply = redis.call(command, unpack(values, from, to))
    end
    if type(reply) == 'number' then sum = sum + reply end
  end
  return sum
end
