-- KEYS: clock, outbox stream, outbox seq, trade counter, trades hash
-- ARGV: prefix, offer id, expected status ('' = the offer must not exist yet),
--       expiry in microseconds ('' = no check), ttl in microseconds for @@EXP@@ ('' = none),
--       with trade ('1'/'0'), new status, offer doc, trade doc ('' = none),
--       n; n x (player id, field, expected value)     compare-and-set ('0' = missing)
--       n; n x (player id, n_set, n_set x (field, value), n_del, n_del x field),
--       n; n x (event id, event type, key, body)     event i gets instant i of this step
--       n; n x (zset key suffix, member, score)       score '@i' = instant i, '@EXP' =
--                                                     the expiry, '-' = remove, else literal
--       n; n x (player id, field, delta)              HINCRBY (escrow holds; a field
--                                                     back at 0 is removed, but 'hv')
--       n; n x (offer id, status, doc)                 new offers (a counter-offer)
-- Returns {'ok', offer doc, trade doc, new offer doc or ''}, {'conflict'} or {'expired'}.
-- The expiry (@@EXP@@, '@EXP') is the last event's instant plus the ttl: the new offer's.
local prefix = ARGV[1]
local offer_key = prefix .. 'offer:' .. ARGV[2]
local status = redis.call('HGET', offer_key, 'status')
if ARGV[3] == '' then
  if status then return {'conflict'} end
elseif status ~= ARGV[3] then
  return {'conflict'}
end
if ARGV[4] ~= '' then
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000000 + tonumber(t[2]) >= tonumber(ARGV[4]) then return {'expired'} end
end
local at = 10
for _ = 1, tonumber(ARGV[at]) do
  local value = redis.call('HGET', prefix .. 'player:' .. ARGV[at + 1], ARGV[at + 2]) or '0'
  if value ~= ARGV[at + 3] then return {'conflict'} end
  at = at + 3
end
at = at + 1

-- Every check passed: fill the placeholders, then write (XADD first, as the trade script).
local now = clock_now(KEYS[1])
local writes_at = at
for _ = 1, tonumber(ARGV[writes_at]) do
  at = at + 2
  at = at + 2 * tonumber(ARGV[at]) + 1
  at = at + tonumber(ARGV[at])
end
at = at + 1
local n_events = tonumber(ARGV[at])
local instants = {}
for i = 1, n_events do instants[i] = format_instant(now + i) end
local trade_id = ''
if ARGV[6] == '1' then trade_id = num((tonumber(redis.call('GET', KEYS[4])) or 0) + 1) end
local expires = ''
if ARGV[5] ~= '' then expires = format_instant(now + n_events + tonumber(ARGV[5])) end
local function fill(text)
  text = string.gsub(text, '@@TRADE@@', trade_id)
  text = string.gsub(text, '@@EXP@@', expires)
  for i = 1, n_events do text = string.gsub(text, '@@AT' .. i .. '@@', instants[i]) end
  return text
end

local seq = tonumber(redis.call('GET', KEYS[3])) or 0
for i = 1, n_events do
  local e = at + 1 + 4 * (i - 1)
  seq = seq + 1
  redis.call('XADD', KEYS[2], '0-' .. num(seq), 'event_id', ARGV[e], 'event_type', ARGV[e + 1],
    'occurred_at', instants[i], 'key', ARGV[e + 2], 'body', fill(ARGV[e + 3]))
end
at = at + 1 + 4 * n_events
redis.call('SET', KEYS[3], num(seq))
redis.call('SET', KEYS[1], num(now + n_events))

local offer_doc, trade_doc = fill(ARGV[8]), ''
if trade_id ~= '' then
  trade_doc = fill(ARGV[9])
  redis.call('SET', KEYS[4], trade_id)
  redis.call('HSET', KEYS[5], trade_id, trade_doc)
end
redis.call('HSET', offer_key, 'status', ARGV[7], 'doc', offer_doc)

local w = writes_at
for _ = 1, tonumber(ARGV[w]) do
  local key = prefix .. 'player:' .. ARGV[w + 1]
  local n_set = tonumber(ARGV[w + 2])
  if n_set > 0 then redis.call('HSET', key, unpack(ARGV, w + 3, w + 2 + 2 * n_set)) end
  w = w + 3 + 2 * n_set
  local n_del = tonumber(ARGV[w])
  if n_del > 0 then redis.call('HDEL', key, unpack(ARGV, w + 1, w + n_del)) end
  w = w + n_del
end

for _ = 1, tonumber(ARGV[at]) do
  local score = ARGV[at + 3]
  if score == '-' then
    redis.call('ZREM', prefix .. ARGV[at + 1], ARGV[at + 2])
  else
    if score == '@EXP' then
      score = num(now + n_events + tonumber(ARGV[5]))
    elseif string.sub(score, 1, 1) == '@' then
      score = num(now + tonumber(string.sub(score, 2)))
    end
    redis.call('ZADD', prefix .. ARGV[at + 1], score, ARGV[at + 2])
  end
  at = at + 3
end
at = at + 1
for _ = 1, tonumber(ARGV[at]) do
  local key, field = prefix .. 'player:' .. ARGV[at + 1], ARGV[at + 2]
  local left = redis.call('HINCRBY', key, field, ARGV[at + 3])
  if left == 0 and field ~= 'hv' then redis.call('HDEL', key, field) end
  at = at + 3
end
at = at + 1
local new_doc = ''
for _ = 1, tonumber(ARGV[at]) do
  new_doc = fill(ARGV[at + 3])
  redis.call('HSET', prefix .. 'offer:' .. ARGV[at + 1], 'status', ARGV[at + 2], 'doc', new_doc)
  at = at + 3
end
return {'ok', offer_doc, trade_doc, new_doc}
