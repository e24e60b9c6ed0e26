"""The Lua scripts that make each Redis write one atomic step.

Redis runs a script to completion with no other command in between, so validating a trade,
updating both player hashes, appending the outbox entry and remembering the idempotency key
happen together or not at all. The trade rules are re-expressed here from
`bazaar.domain.trading.execute_trade`; `tests/integration/test_redis_store.py` runs both on
thousands of random requests and demands identical outcomes, details and event bytes.

Why the scripts are careful:
- every read, check and JSON encoding happens BEFORE the first write: Redis does not roll
  back a script that fails half way, so a failure must come while nothing is written yet;
  XADD (the only write that can be refused, for a stale id) is the first write.
- ids are kept as decimal strings (player and item ids may be as large as 2**63 - 1, which a
  Lua double cannot hold); quantities and gold are below 2**53 (checked by the adapter).
- the JSON is assembled by hand in orjson's exact layout (Redis' cjson turns an empty list
  into `{}` and escapes '/'), so an event from this store is byte for byte what the domain
  builds for the same trade.
- the catalog's item values are compiled into the script source (one SHA per catalog), so a
  trade never reads catalog data at run time and two catalogs can never mix.
"""

from __future__ import annotations

from bazaar.domain.catalog import Catalog

_COMMON = r"""
redis.replicate_commands()
local VALUES = {%(values)s}
-- The catalog's item ids in numeric order, and each id's place in it: held items are sorted
-- by place with Lua's built-in number comparison instead of a Lua comparator.
local BY_RANK = {%(by_rank)s}
local RANK = {}
for place, id in ipairs(BY_RANK) do RANK[id] = place end

-- Number to text is the dearest step of building events: memoised for this run.
local NUMS = {}
local function num(n)
  local text = NUMS[n]
  if text == nil then
    text = string.format('%%.0f', n)
    NUMS[n] = text
  end
  return text
end

local ESCAPES = {['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                 ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}
local function jstr(s)
  if not string.find(s, '[%%z\1-\31"\\]') then return '"' .. s .. '"' end
  return '"' .. string.gsub(s, '[%%z\1-\31"\\]', function(c)
    return ESCAPES[c] or string.format('\\u%%04x', string.byte(c))
  end) .. '"'
end

local function by_number(a, b) return tonumber(a) < tonumber(b) end

-- Event time: strictly increasing microseconds per store, formatted like domain/clock.py.
-- The caller adds one microsecond per event and stores the last one it used.
local function clock_now(clock_key)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('GET', clock_key))
  if last and now <= last then now = last + 1 end
  return now - 1
end

local DATE_SECS, DATE_TEXT = nil, nil
local function format_instant(now)
  local secs = math.floor(now / 1000000)
  local micros = now - secs * 1000000
  if secs ~= DATE_SECS then
    local days = math.floor(secs / 86400)
    local rem = secs - days * 86400
    local z = days + 719468
    local era = math.floor(z / 146097)
    local doe = z - era * 146097
    local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                            - math.floor(doe / 146096)) / 365)
    local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
    local mp = math.floor((5 * doy + 2) / 153)
    local day = doy - math.floor((153 * mp + 2) / 5) + 1
    local month = mp < 10 and mp + 3 or mp - 9
    local year = yoe + era * 400
    if month <= 2 then year = year + 1 end
    DATE_SECS = secs
    DATE_TEXT = string.format('%%04d-%%02d-%%02dT%%02d:%%02d:%%02d.', year, month, day,
      math.floor(rem / 3600), math.floor(rem %% 3600 / 60), rem %% 60)
  end
  return DATE_TEXT .. string.format('%%06dZ', micros)
end

local function load_player(key, player_id)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local p = {id = player_id, items = {}}
  local distinct, worth, held = 0, 0, 0
  for i = 1, #flat, 2 do
    local field, value = flat[i], flat[i + 1]
    if string.byte(field, 1) == 105 then  -- 'i': item:<id> (no other field starts so)
      local id, q = string.sub(field, 6), tonumber(value)
      p.items[id] = q
      distinct, worth, held = distinct + 1, worth + q * (VALUES[id] or 0), held + q
    elseif field == 'username' or field == 'player_class' or field == 'created_at' then
      p[field] = value
    else
      p[field] = tonumber(value)
    end
  end
  -- the whole-inventory figures (summary() below), kept up to date trade by trade
  p.distinct, p.worth, p.held = distinct, worth, held
  return p
end

local WALK_CATALOG = #BY_RANK <= 64

-- Held item ids in numeric order. `distinct`, when known, is how many there are: with a
-- small catalog, walking the catalog's order and checking the count beats sorting.
local function sorted_item_ids(items, distinct)
  if distinct and WALK_CATALOG then
    local ids, n = {}, 0
    for _, id in ipairs(BY_RANK) do
      if items[id] then
        n = n + 1
        ids[n] = id
      end
    end
    if n == distinct then return ids end  -- else one is held from outside the catalog
  end
  local places, n = {}, 0
  for id in pairs(items) do
    local place = RANK[id]
    if place == nil then  -- held since a catalog change: compare the ids themselves
      local ids = {}
      for other in pairs(items) do ids[#ids + 1] = other end
      table.sort(ids, by_number)
      return ids
    end
    n = n + 1
    places[n] = place
  end
  table.sort(places)
  for i = 1, n do places[i] = BY_RANK[places[i]] end
  return places
end

-- distinct_items, items_value, items_held: the whole-inventory figures of events.py
local function summary(items)
  local distinct, value, held = 0, 0, 0
  for id, q in pairs(items) do
    distinct = distinct + 1
    value = value + q * (VALUES[id] or 0)
    held = held + q
  end
  return distinct, value, held
end

local function summary_json(items)
  local distinct, value, held = summary(items)
  return '"distinct_items":' .. num(distinct) .. ',"items_value":' .. num(value)
    .. ',"items_held":' .. num(held)
end

-- PlayerState.to_document(); the parts a trade never changes are encoded once per player.
local function state_json(p)
  if p.head == nil then
    p.head = '{"player_id":' .. p.id .. ',"username":' .. jstr(p.username)
      .. ',"player_class":' .. jstr(p.player_class) .. ',"gold":'
    p.tail = ',"created_at":' .. jstr(p.created_at) .. '}'
  end
  local parts = {}
  for _, id in ipairs(sorted_item_ids(p.items, p.distinct)) do
    parts[#parts + 1] = '"' .. id .. '":' .. num(p.items[id])
  end
  return p.head .. num(p.gold) .. ',"items":{' .. table.concat(parts, ',') .. '},"capacity":'
    .. num(p.capacity) .. ',"version":' .. num(p.version) .. p.tail
end

local function append_outbox(outbox_key, seq_key, event_id, event_type, occurred_at, key, body)
  local seq = (tonumber(redis.call('GET', seq_key)) or 0) + 1
  redis.call('XADD', outbox_key, '0-' .. seq, 'event_id', event_id, 'event_type', event_type,
    'occurred_at', occurred_at, 'key', key, 'body', body)
  redis.call('SET', seq_key, seq)
  return seq
end

local function envelope(event_id, event_type, occurred_at, payload)
  return '{"event_id":' .. jstr(event_id) .. ',"event_type":"' .. event_type
    .. '","schema_version":1,"occurred_at":"' .. occurred_at .. '","payload":' .. payload .. '}'
end

-- Idempotency: nil when the key is new, else {'dup', result} or {'reused'}.
local function claimed(idem_key, fingerprint)
  if fingerprint == '' then return nil end
  local seen = redis.call('HMGET', idem_key, 'fingerprint', 'result')
  if not seen[1] then return nil end
  if seen[1] ~= fingerprint then return {'reused'} end
  return {'dup', seen[2]}
end

local function remember(idem_key, fingerprint, ttl, result)
  if fingerprint == '' then return end
  redis.call('HSET', idem_key, 'fingerprint', fingerprint, 'result', result)
  redis.call('EXPIRE', idem_key, ttl)
end
"""

# One script run executes a batch of trades in order (a batch of one for a single call):
# each trade sees the states the previous ones left, and the whole batch is one atomic step.
# KEYS: clock, trade counter, outbox seq, trades hash, outbox stream
# ARGV: key prefix, idempotency ttl, trade count, then per trade:
#       id_1, gold_1, lines_1, id_2, gold_2, lines_2, idempotency key ('' = none),
#       fingerprint, event_id, then (item_id, quantity) pairs: lines_1, then lines_2
# Returns per trade two values: 'ok' and the outcome document, 'unknown' and a player id,
# or 'reused' and ''.
_TRADE = r"""
local prefix, ttl = ARGV[1], ARGV[2]
local players, dirty = {}, {}       -- player id -> state as this batch left it
local remembered = {}               -- idempotency key -> {fingerprint, result} of this batch
local trade_id = tonumber(redis.call('GET', KEYS[2])) or 0
local seq = tonumber(redis.call('GET', KEYS[3])) or 0
local now = clock_now(KEYS[1])
local events, outcomes, writes_idem = {}, {}, {}
local replies = {}

local function player(id)
  local p = players[id]
  if p == nil then
    p = load_player(prefix .. 'player:' .. id, id) or false
    players[id] = p
  end
  return p
end

local function side(player_id, gold, count, first)
  local s = {id = player_id, gold = tonumber(gold), order = {}, qty = {}, units = 0}
  for i = 0, count - 1 do
    local item, q = ARGV[first + 2 * i], tonumber(ARGV[first + 2 * i + 1])
    s.units = s.units + q
    if s.qty[item] == nil then
      s.order[#s.order + 1] = item
      s.qty[item] = q
    else
      s.qty[item] = s.qty[item] + q
    end
  end
  return s
end

local function check_side(s, giver, label)
  for _, item in ipairs(s.order) do
    if VALUES[item] == nil then
      return 'unknown_item', label .. ': item_id ' .. item .. ' is not in the catalog'
    end
  end
  for _, item in ipairs(s.order) do
    local held = giver.items[item] or 0
    if held < s.qty[item] then
      return 'insufficient_items', label .. ': player ' .. giver.id .. ' holds ' .. num(held)
        .. ' of item ' .. item .. ', gives ' .. num(s.qty[item])
    end
  end
  if giver.gold < s.gold then
    return 'insufficient_gold', label .. ': player ' .. giver.id .. ' holds '
      .. num(giver.gold) .. ' gold, gives ' .. num(s.gold)
  end
  return nil
end

-- trading.py's capacity rule: only a receiver that grows can break capacity (one already
-- over it after a catalog change may still trade down).
local function over_capacity(p, gives, gets, label)
  local held = p.held - gives.units + gets.units
  if held > p.capacity and held > p.held then
    return 'capacity_exceeded', label .. ': player ' .. p.id .. ' would hold ' .. num(held)
      .. ' items, capacity ' .. num(p.capacity)
  end
  return nil
end

-- An accepted trade applied to the batch's copy of a player, in place, with the inventory
-- figures moved by the lines that changed hands instead of summed again (all integers
-- below 2**53, so exact).
local function apply(p, gives, gets)
  local items = p.items
  local distinct, worth, held = p.distinct, p.worth, p.held
  for _, id in ipairs(gives.order) do
    local q = gives.qty[id]
    local left = items[id] - q
    if left ~= 0 then items[id] = left else items[id], distinct = nil, distinct - 1 end
    worth, held = worth - q * VALUES[id], held - q
  end
  for _, id in ipairs(gets.order) do
    local q, had = gets.qty[id], items[id]
    if had == nil then had, distinct = 0, distinct + 1 end
    items[id] = had + q
    worth, held = worth + q * VALUES[id], held + q
  end
  p.distinct, p.worth, p.held = distinct, worth, held
  p.gold = p.gold - gives.gold + gets.gold
  p.version = p.version + 1
  p.touched = p.touched or {}
end

local function request_side_json(s)
  local lines = {}
  for _, id in ipairs(s.order) do
    lines[#lines + 1] = '{"item_id":' .. id .. ',"quantity":' .. num(s.qty[id]) .. '}'
  end
  return '{"player_id":' .. s.id .. ',"items":[' .. table.concat(lines, ',') .. '],"gold":'
    .. num(s.gold) .. '}'
end

-- events.py _gives(): what a side gave, with the catalog value of each line (null if none)
local function gives_json(s)
  local lines = {}
  for _, id in ipairs(s.order) do
    local value = VALUES[id]
    lines[#lines + 1] = '{"item_id":' .. id .. ',"quantity":' .. num(s.qty[id])
      .. ',"value":' .. (value and num(value) or 'null') .. '}'
  end
  return '{"player_id":' .. s.id .. ',"gold":' .. num(s.gold) .. ',"items":['
    .. table.concat(lines, ',') .. ']'
end

local function trade(one, two, event_id)
  local p1 = player(one.id)
  if not p1 then return 'unknown', one.id end
  local p2 = player(two.id)
  if not p2 then return 'unknown', two.id end

  local reason, detail
  if one.id == two.id then
    reason, detail = 'self_trade', 'player ' .. one.id .. ' cannot trade with itself'
  elseif #one.order == 0 and one.gold == 0 and #two.order == 0 and two.gold == 0 then
    reason, detail = 'empty_trade', 'neither side gives anything'
  else
    reason, detail = check_side(one, p1, 'player_1')
    if not reason then reason, detail = check_side(two, p2, 'player_2') end
    if not reason then reason, detail = over_capacity(p1, one, two, 'player_1') end
    if not reason then reason, detail = over_capacity(p2, two, one, 'player_2') end
    if not reason then  -- accepted: p1 and p2 become the states after the trade
      apply(p1, one, two)
      apply(p2, two, one)
    end
  end

  trade_id = trade_id + 1
  now = now + 1
  local executed_at = format_instant(now)
  local request = '{"player_1":' .. request_side_json(one) .. ',"player_2":'
    .. request_side_json(two) .. '}'
  local head = '{"trade_id":' .. num(trade_id)
  local outcome, payload, event_type
  if reason then
    event_type = 'trade_rejected'
    outcome = head .. ',"status":"rejected","executed_at":"' .. executed_at .. '","request":'
      .. request .. ',"reason":"' .. reason .. '","detail":' .. jstr(detail) .. '}'
    payload = head .. ',"reason":"' .. reason .. '","detail":' .. jstr(detail)
      .. ',"player_1":' .. gives_json(one) .. '},"player_2":' .. gives_json(two) .. '}}'
  else
    event_type = 'trade_accepted'
    outcome = head .. ',"status":"accepted","executed_at":"' .. executed_at .. '","request":'
      .. request .. ',"player_1":' .. state_json(p1) .. ',"player_2":' .. state_json(p2) .. '}'
    local touched, seen_ids = {}, {}
    for _, s in ipairs({one, two}) do
      for _, id in ipairs(s.order) do
        if not seen_ids[id] then seen_ids[id] = true; touched[#touched + 1] = id end
      end
    end
    table.sort(touched, by_number)
    local function after_json(s, new)
      local lines = {}
      for _, id in ipairs(touched) do
        lines[#lines + 1] = '{"item_id":' .. id .. ',"quantity":' .. num(new.items[id] or 0)
          .. '}'
        new.touched[id] = true
      end
      return gives_json(s) .. ',"gold_after":' .. num(new.gold) .. ',"version":'
        .. num(new.version) .. ',"items_after":[' .. table.concat(lines, ',')
        .. '],"distinct_items":' .. num(new.distinct) .. ',"items_value":' .. num(new.worth)
        .. ',"items_held":' .. num(new.held) .. '}'
    end
    payload = head .. ',"player_1":' .. after_json(one, p1) .. ',"player_2":'
      .. after_json(two, p2) .. '}'
    dirty[one.id], dirty[two.id] = true, true
  end
  seq = seq + 1
  events[#events + 1] = {'0-' .. num(seq), 'event_id', event_id, 'event_type', event_type,
    'occurred_at', executed_at, 'key', one.id,
    'body', envelope(event_id, event_type, executed_at, payload)}
  outcomes[#outcomes + 1] = num(trade_id)
  outcomes[#outcomes + 1] = outcome
  return 'ok', outcome
end

-- Phase 1: every check and every encoding, with no write.
local at = 4
for _ = 1, tonumber(ARGV[3]) do
  local n1, n2 = tonumber(ARGV[at + 2]), tonumber(ARGV[at + 5])
  local idem_key, fingerprint, event_id = ARGV[at + 6], ARGV[at + 7], ARGV[at + 8]
  local one = side(ARGV[at], ARGV[at + 1], n1, at + 9)
  local two = side(ARGV[at + 3], ARGV[at + 4], n2, at + 9 + 2 * n1)
  at = at + 9 + 2 * (n1 + n2)
  local kind, value
  if idem_key ~= '' then
    idem_key = prefix .. 'idem:' .. idem_key
    local seen = remembered[idem_key]
    if seen == nil then
      seen = redis.call('HMGET', idem_key, 'fingerprint', 'result')
      if not seen[1] then seen = false end
      remembered[idem_key] = seen
    end
    if seen then
      if seen[1] ~= fingerprint then
        kind, value = 'reused', ''
      else
        kind, value = 'dup', seen[2]
      end
    end
  end
  if kind == nil then
    kind, value = trade(one, two, event_id)
    if kind == 'ok' and idem_key ~= '' then
      remembered[idem_key] = {fingerprint, value}
      writes_idem[#writes_idem + 1] = {idem_key, fingerprint, value}
    end
  end
  replies[#replies + 1] = kind
  replies[#replies + 1] = value
end

-- Phase 2: the writes. XADD first: it is the only one Redis could refuse (a stale id).
for _, e in ipairs(events) do redis.call('XADD', KEYS[5], unpack(e)) end
if #events > 0 then
  redis.call('SET', KEYS[1], num(now))
  redis.call('SET', KEYS[2], num(trade_id))
  redis.call('SET', KEYS[3], num(seq))
  redis.call('HSET', KEYS[4], unpack(outcomes))
end
for id in pairs(dirty) do
  local p = players[id]
  local fields, gone = {'gold', num(p.gold), 'version', num(p.version)}, {}
  for item in pairs(p.touched) do
    local q = p.items[item]
    if q == nil then
      gone[#gone + 1] = 'item:' .. item
    else
      fields[#fields + 1] = 'item:' .. item
      fields[#fields + 1] = num(q)
    end
  end
  local key = prefix .. 'player:' .. id
  redis.call('HSET', key, unpack(fields))
  if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
end
for _, w in ipairs(writes_idem) do
  redis.call('HSET', w[1], 'fingerprint', w[2], 'result', w[3])
  redis.call('EXPIRE', w[1], ttl)
end
return replies
"""

# KEYS: player counter, idempotency, clock, outbox, outbox seq
# ARGV: key prefix, class, username (or '' for the default), gold, capacity, fingerprint, event_id,
#       ttl, then (item_id, quantity) pairs of the class's starting stacks
_CREATE = r"""
local seen = claimed(KEYS[2], ARGV[6])
if seen then return seen end

local player_id = tostring((tonumber(redis.call('GET', KEYS[1])) or 0) + 1)
local now = clock_now(KEYS[3]) + 1
local created_at = format_instant(now)
local p = {id = player_id, player_class = ARGV[2], gold = tonumber(ARGV[4]),
           capacity = tonumber(ARGV[5]), version = 1, created_at = created_at, items = {}}
if ARGV[3] == '' then p.username = ARGV[2] .. '-' .. player_id else p.username = ARGV[3] end
for i = 9, #ARGV, 2 do p.items[ARGV[i]] = (p.items[ARGV[i]] or 0) + tonumber(ARGV[i + 1]) end

local stacks = {}
for _, id in ipairs(sorted_item_ids(p.items)) do
  stacks[#stacks + 1] = '{"item_id":' .. id .. ',"quantity":' .. num(p.items[id]) .. '}'
end
local payload = '{"player_id":' .. player_id .. ',"username":' .. jstr(p.username)
  .. ',"player_class":' .. jstr(p.player_class) .. ',"gold":' .. num(p.gold)
  .. ',"capacity":' .. num(p.capacity) .. ',"items":[' .. table.concat(stacks, ',')
  .. '],"version":1,' .. summary_json(p.items) .. '}'
local body = envelope(ARGV[7], 'player_created', created_at, payload)
local state = state_json(p)

append_outbox(KEYS[4], KEYS[5], ARGV[7], 'player_created', created_at, player_id, body)
redis.call('SET', KEYS[1], player_id)
redis.call('SET', KEYS[3], num(now))
local fields = {'username', p.username, 'player_class', p.player_class, 'gold', num(p.gold),
                'capacity', num(p.capacity), 'version', '1', 'created_at', created_at}
for id, q in pairs(p.items) do
  fields[#fields + 1] = 'item:' .. id
  fields[#fields + 1] = num(q)
end
redis.call('HSET', ARGV[1] .. 'player:' .. player_id, unpack(fields))
remember(KEYS[2], ARGV[6], ARGV[8], state)
return {'ok', state}
"""


def common_prelude(catalog: Catalog) -> str:
    """The shared helpers with this catalog's values and id order compiled in."""
    values = ", ".join(f'["{i.item_id}"] = {i.value}' for i in catalog.items.values())
    by_rank = ", ".join(f"'{item_id}'" for item_id in sorted(catalog.items))
    return _COMMON % {"values": values, "by_rank": by_rank}


def trade_script(catalog: Catalog) -> str:
    return common_prelude(catalog) + _TRADE


def create_player_script(catalog: Catalog) -> str:
    return common_prelude(catalog) + _CREATE
