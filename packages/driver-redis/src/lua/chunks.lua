--[[
  Shared fragment, not a script of its own: placed first where reserve.lua, ack.lua,
  ack-and-claim.lua, cancel.lua and job-list.lua say `-- @include chunks` (the claim and finished
  fragments use it).

  Defines:
    callInChunks(command, key, values)
      runs `command key ...values` (`command ...values` when key is false) once per 1,000 values
      (an even number, for pairs): one redis.call for many members costs far less than one each
]]
local function callInChunks(command, key, values)
  for from = 1, #values, 1000 do
    local to = math.min(from + 999, #values)
    if key then
      redis.call(command, key, unpack(values, from, to))
    else
      redis.call(command, unpack(values, from, to))
    end
  end
end
