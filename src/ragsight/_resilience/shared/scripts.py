"""The server-side Lua scripts: each runs atomically on Redis and reads the server's clock
(``TIME``), so replicas with skewed clocks agree on what is fresh. Keys share a hash tag so
both keys of one breaker live in one Redis Cluster slot."""

from typing import Final

# KEYS: reports hash, trip hash. ARGV: replica, calls, failures, slow, failure threshold,
# slow threshold, replica minimum calls, quorum, stale ms.
# Each fresh replica whose window holds >= the minimum votes with ITS OWN rates, equally
# weighted: one bad replica among healthy busy ones cannot carry the mean (poisoning).
# A trip is an edge: a new trip id is minted only when the view goes from healthy to tripped.
BREAKER: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stale = tonumber(ARGV[9])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4] .. ' ' .. now)
local all = redis.call('HGETALL', KEYS[1])
local voters, fails, slows, replicas = 0, 0, 0, 0
local minimum = tonumber(ARGV[7])
for i = 1, #all, 2 do
  local c, f, s, ts = string.match(all[i + 1], '^(%d+) (%d+) (%d+) (%d+)$')
  c, f, s, ts = tonumber(c), tonumber(f), tonumber(s), tonumber(ts)
  if ts == nil or now - ts > stale then
    redis.call('HDEL', KEYS[1], all[i])
  else
    replicas = replicas + 1
    if c > 0 and c >= minimum then
      voters = voters + 1
      fails = fails + f / c
      slows = slows + s / c
    end
  end
end
local tripped = 0
if voters > 0 and voters >= tonumber(ARGV[8]) then
  if fails / voters >= tonumber(ARGV[5]) or slows / voters >= tonumber(ARGV[6]) then
    tripped = 1
  end
end
local was = tonumber(redis.call('HGET', KEYS[2], 'tripped') or '0')
if tripped == 1 and was == 0 then
  redis.call('HSET', KEYS[2], 'tripped', 1, 'id', now .. ':' .. ARGV[1])
elseif tripped == 0 and was == 1 then
  redis.call('HSET', KEYS[2], 'tripped', 0)
end
redis.call('PEXPIRE', KEYS[1], stale * 10)
redis.call('PEXPIRE', KEYS[2], stale * 10)
local id = redis.call('HGET', KEYS[2], 'id') or ''
local mean = 0
if voters > 0 then mean = math.floor(fails / voters * 1000000) end
return {tripped, id, voters, replicas, mean}
"""

# KEYS: reports hash. ARGV: replica, calls, retries, stale ms.
# Returns the sums over every OTHER fresh replica: the caller adds its own live counts.
BUDGET: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stale = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. now)
local all = redis.call('HGETALL', KEYS[1])
local calls, retries, replicas = 0, 0, 0
for i = 1, #all, 2 do
  local c, r, ts = string.match(all[i + 1], '^(%d+) (%d+) (%d+)$')
  c, r, ts = tonumber(c), tonumber(r), tonumber(ts)
  if ts == nil or now - ts > stale then
    redis.call('HDEL', KEYS[1], all[i])
  else
    replicas = replicas + 1
    if all[i] ~= ARGV[1] then
      calls = calls + c
      retries = retries + r
    end
  end
end
redis.call('PEXPIRE', KEYS[1], stale * 10)
return {calls, retries, replicas}
"""
