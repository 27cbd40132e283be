"""The server-side Lua script: it runs atomically on Redis and reads the server's clock
(``TIME``), so replicas with skewed clocks agree on what is fresh. One script serves every
component: it stores this replica's report and returns the other replicas' fresh ones; the
replica decides (:mod:`.fleet`)."""

from typing import Final

# KEYS: the component's reports hash (one field per replica: "<server ms> <payload>").
# ARGV: replica, payload (integers separated by spaces), stale ms.
# Returns a flat list replica, payload, replica, payload ... of every OTHER replica whose
# report is at most stale ms old by the server's clock; older reports are deleted, and so
# are reports stamped more than stale ms in the future (left by a server whose clock was
# ahead: a failover, a clock step), which would otherwise vote until this clock caught up.
REPORT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stale = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], now .. ' ' .. ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local fresh = {}
for i = 1, #all, 2 do
  local ts, payload = string.match(all[i + 1], '^(%d+) (.*)$')
  ts = tonumber(ts)
  if ts == nil or now - ts > stale or ts - now > stale then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[1] then
    fresh[#fresh + 1] = all[i]
    fresh[#fresh + 1] = payload
  end
end
redis.call('PEXPIRE', KEYS[1], stale * 10)
return fresh
"""
