-- The helpers every script shares; the loader (store/redis_scripts.py) fills in the catalog's
-- item values and id order where the two marked comments stand.
redis.replicate_commands()
local VALUES = {--[[catalog values]]}
-- The catalog's item ids in numeric order, and each id's place in it: held items are sorted
-- by place with Lua's built-in number comparison instead of a Lua comparator.
local BY_RANK = {--[[catalog ids]]}
local RANK = {}
for place, id in ipairs(BY_RANK) do RANK[id] = place end

-- Number to text is the dearest step of building events: memoised for this run.
local NUMS = {}
local function num(n)
  local text = NUMS[n]
  if text == nil then
    text = string.format('%.0f', n)
    NUMS[n] = text
  end
  return text
end

local ESCAPES = {['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                 ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}
local function jstr(s)
  if not string.find(s, '[%z\1-\31"\\]') then return '"' .. s .. '"' end
  return '"' .. string.gsub(s, '[%z\1-\31"\\]', function(c)
    return ESCAPES[c] or string.format('\\u%04x', string.byte(c))
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
    DATE_TEXT = string.format('%04d-%02d-%02dT%02d:%02d:%02d.', year, month, day,
      math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60)
  end
  return DATE_TEXT .. string.format('%06dZ', micros)
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
