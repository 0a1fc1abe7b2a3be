"""The Lua scripts ``RedisStore`` runs inside Redis, built once at import.

One shared section reads, decays and packs a state (``P:{id}:h`` field ``s``:
"t st dp dc v1..v19"), so the apply and undo scripts cannot disagree on the layout. This module
only holds text: it talks to nobody.
"""

from __future__ import annotations

from signals.state import SYNC_FIELDS

NV = len(SYNC_FIELDS)  # values in a delta block: decayed counters first, then raw counts
ND = NV - 3  # of which decayed

# x[1] decayed-to time, x[2] started, x[3] distinct products, x[4] distinct categories,
# x[5..NV+4] the values (the first ND decay with the half-life).
_STATE = """
local NV = __NV__
local ND = __ND__
local PACK = string.rep('%.17g ', NV + 3) .. '%.17g'
local function read_state(packed, now)
  local x = {}
  if packed then
    for w in string.gmatch(packed, '%S+') do x[#x + 1] = tonumber(w) end
  else
    x[1] = now
    for i = 2, NV + 4 do x[i] = 0 end
  end
  return x
end
local function decay_to(x, now, hl)
  if now > x[1] then
    local f = 2 ^ (-(now - x[1]) / hl)
    for i = 5, ND + 4 do x[i] = x[i] * f end
    x[1] = now
  end
end
local function pack_state(x)
  for i = 5, NV + 4 do
    if x[i] < 0 then x[i] = 0 end
  end
  return string.format(PACK, unpack(x))
end
"""

# Applies deltas (each at most once per writer and sequence number) and merges (once per merge
# id) to a batch of keys in one slot; returns each key's total.
# KEYS: 6 per entry (hash, products, categories, merge journal, devices, applied sequences).
# ARGV: now, half_life, undo_ttl, product cap, category cap, then one space-separated string
# per entry: ttl, writer id, delta count, per delta: sequence number and block, merge count,
# and per merge: id, device pseudonym ("-": none), block. A block: 19 values, started,
# n products, products, n categories, categories.
# The applied-sequences hash keeps, per writer, the highest sequence applied: a delta sent again
# because its reply was lost is skipped, so every delta counts exactly once. It lives as long as
# the state it guards.
# One string per entry rather than ~30 arguments: redis-py encodes each argument in Python,
# and that was most of the client's cost per key.
APPLY = _STATE + """
local now = tonumber(ARGV[1])
local hl = tonumber(ARGV[2])
local undo_ttl = tonumber(ARGV[3])
local pcap = tonumber(ARGV[4])
local ccap = tonumber(ARGV[5])
local out = {}
local A = {}
local a = 1
local function read_block()
  local b = {vals = {}, prods = {}, cats = {}}
  for i = 1, NV do b.vals[i] = tonumber(A[a + i - 1]) end
  a = a + NV
  b.st = tonumber(A[a])
  local n = tonumber(A[a + 1])
  a = a + 2
  for j = 1, n do b.prods[j] = A[a + j - 1] end
  a = a + n
  n = tonumber(A[a])
  a = a + 1
  for j = 1, n do b.cats[j] = A[a + j - 1] end
  a = a + n
  return b
end
for k = 1, #KEYS, 6 do
  local h, ps, cs, mj, dv, sq = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4],
                                KEYS[k + 5]
  A = {}
  for w in string.gmatch(ARGV[5 + (k + 5) / 6], '%S+') do A[#A + 1] = w end
  local ttl = tonumber(A[1])
  local writer = A[2]
  local nd = tonumber(A[3])
  a = 4
  local blocks = {}
  if nd > 0 then
    local done = tonumber(redis.call('HGET', sq, writer) or '0')
    local last = done
    for _ = 1, nd do
      local seq = tonumber(A[a])
      a = a + 1
      local b = read_block()
      if seq > last then
        blocks[#blocks + 1] = b
        last = seq
      end
    end
    if last > done then redis.call('HSET', sq, writer, last) end
    redis.call('EXPIRE', sq, ttl)
  end
  local journal = {}
  local nm = tonumber(A[a])
  a = a + 1
  for _ = 1, nm do
    local mid, dev = A[a], A[a + 1]
    a = a + 2
    local b = read_block()
    if redis.call('HEXISTS', mj, mid) == 0 then
      blocks[#blocks + 1] = b
      journal[#journal + 1] = {mid, b, dev}
    end
    if dev ~= '-' then
      redis.call('SADD', dv, dev)
      redis.call('EXPIRE', dv, ttl)
    end
  end
  local packed = redis.call('HGET', h, 's')
  if #blocks > 0 then
    local x = read_state(packed, now)
    decay_to(x, now, hl)
    local grew_p, grew_c = false, false
    for _, b in ipairs(blocks) do
      for i = 1, NV do x[4 + i] = x[4 + i] + b.vals[i] end
      if b.st > 0 and (x[2] == 0 or b.st < x[2]) then x[2] = b.st end
      local added = {}
      for _, p in ipairs(b.prods) do
        if redis.call('SADD', ps, p) == 1 then
          x[3] = x[3] + 1
          added[#added + 1] = p
          grew_p = true
        end
      end
      for _, c in ipairs(b.cats) do
        if redis.call('SADD', cs, c) == 1 then
          x[4] = x[4] + 1
          grew_c = true
        end
      end
      b.added = added
    end
    packed = pack_state(x)
    redis.call('HSET', h, 's', packed)
    if grew_p then
      local n = redis.call('SCARD', ps)
      if n > pcap then redis.call('SPOP', ps, n - pcap) end
    end
    if grew_c then
      local n = redis.call('SCARD', cs)
      if n > ccap then redis.call('SPOP', cs, n - ccap) end
    end
    for _, jm in ipairs(journal) do
      redis.call('HSET', mj, jm[1], cjson.encode({now, jm[2].vals, jm[2].added, jm[3]}))
      redis.call('EXPIRE', mj, math.ceil(undo_ttl))
    end
  end
  if packed then
    redis.call('EXPIRE', h, ttl)
    redis.call('EXPIRE', ps, ttl)
    redis.call('EXPIRE', cs, ttl)
    out[#out + 1] = {packed, redis.call('SMEMBERS', ps), redis.call('SMEMBERS', cs), #journal}
  else
    out[#out + 1] = {'', {}, {}, 0}
  end
end
return out
"""

# Takes one merge back out: KEYS hash, products, merge journal, devices; ARGV merge id, now,
# half-life, undo period. Returns {1, device pseudonym} (undone), 0 (no such merge), -1 (older
# than the undo period).
UNDO = _STATE + """
local rec = redis.call('HGET', KEYS[3], ARGV[1])
if not rec then return 0 end
local now, hl, undo_ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local m = cjson.decode(rec)
if now - m[1] > undo_ttl then return -1 end
local packed = redis.call('HGET', KEYS[1], 's')
if packed then
  local x = read_state(packed, now)
  decay_to(x, now, hl)
  local g = 2 ^ (-(x[1] - m[1]) / hl)
  for i = 1, NV do
    local d = m[2][i]
    if i <= ND then d = d * g end
    x[4 + i] = x[4 + i] - d
  end
  for _, p in ipairs(m[3]) do
    if redis.call('SREM', KEYS[2], p) == 1 and x[3] > 0 then x[3] = x[3] - 1 end
  end
  redis.call('HSET', KEYS[1], 's', pack_state(x))
end
redis.call('HDEL', KEYS[3], ARGV[1])
local dev = m[4] or '-'
if dev ~= '-' then redis.call('SREM', KEYS[4], dev) end
return {1, dev}
"""

APPLY = APPLY.replace("__NV__", str(NV)).replace("__ND__", str(ND))
UNDO = UNDO.replace("__NV__", str(NV)).replace("__ND__", str(ND))
