--[[
  job-get: one job of one queue by id: live (waiting, delayed, active), or the finished-job record
  kept of it. Delayed jobs that came due are promoted first, so `waiting` and `delayed` are exact;
  an expired lease not reclaimed yet is still `active`.

  KEYS[1] ready           zset  id -> priority * 2^32 + sequence
  KEYS[2] delayed         zset  id -> due time
  KEYS[3] leased          zset  id -> lease expiry
  KEYS[4] seq             string, FIFO sequence counter
  KEYS[5] prios           zset  of priorities in use
  KEYS[6] completed-info  hash  id -> finished-job record
  KEYS[7] cancelled-info  hash  id -> finished-job record

  ARGV[1] job key prefix, `<prefix>:{<queue>}:j:`
  ARGV[2] job id

  Returns: {now, kind, ...}: now is Redis TIME (epoch ms); kind 'live' is followed by the fields of
  liveJob (see live-job.lua), 'completed' and 'cancelled' by the record, 'none' by nothing.
]]
-- @include promote
-- @include live-job
local jobPrefix = ARGV[1]
local id = ARGV[2]
promote(KEYS[1], KEYS[2], KEYS[4], KEYS[5], jobPrefix)
local job
local lease = redis.call('ZSCORE', KEYS[3], id)
if lease then
  job = liveJob(jobPrefix, id, 'active', lease)
else
  local due = redis.call('ZSCORE', KEYS[2], id)
  if due then
    job = liveJob(jobPrefix, id, 'delayed', due)
  elseif redis.call('ZSCORE', KEYS[1], id) then
    job = liveJob(jobPrefix, id, 'waiting', '')
  end
end
if job then
  local out = {now, 'live'}
  for _, v in ipairs(job) do out[#out + 1] = v end
  return out
end
local record = redis.call('HGET', KEYS[6], id)
if record then return {now, 'completed', record} end
record = redis.call('HGET', KEYS[7], id)
if record then return {now, 'cancelled', record} end
return {now, 'none'}
