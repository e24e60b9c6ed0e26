-- One script run executes a batch of trades in order (a batch of one for a single call):
-- each trade sees the states the previous ones left, and the whole batch is one atomic step.
-- KEYS: clock, trade counter, outbox seq, trades hash, outbox stream
-- ARGV: key prefix, idempotency ttl, trade count, trade fee in basis points, then per trade:
--       id_1, gold_1, lines_1, id_2, gold_2, lines_2, idempotency key ('' = none),
--       fingerprint, event_id, then (item_id, quantity) pairs: lines_1, then lines_2
-- Returns per trade two values: 'ok' and the outcome document, 'unknown' and a player id,
-- or 'reused' and ''.
local prefix, ttl, fee_bps = ARGV[1], ARGV[2], tonumber(ARGV[4])
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

-- trading.py's fee_for, exact for any gold below 2**53 (gold * bps alone might not be).
local function fee_for(gold)
  if fee_bps == 0 then return 0 end
  local whole = math.floor(gold / 10000)
  return whole * fee_bps + math.floor((gold - whole * 10000) * fee_bps / 10000)
end

local function side(player_id, gold, count, first)
  local s = {id = player_id, gold = tonumber(gold), order = {}, qty = {}, units = 0}
  s.fee = fee_for(s.gold)
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

-- Goods held in escrow by open offers (fields held:<id>, held_gold) are not available.
local function check_side(s, giver, label)
  for _, item in ipairs(s.order) do
    if VALUES[item] == nil then
      return 'unknown_item', label .. ': item_id ' .. item .. ' is not in the catalog'
    end
  end
  for _, item in ipairs(s.order) do
    local have = giver.items[item] or 0
    local held = giver['held:' .. item] or 0
    if have - held < s.qty[item] then
      local escrow = held ~= 0 and ' (' .. num(held) .. ' held by open offers)' or ''
      return 'insufficient_items', label .. ': player ' .. giver.id .. ' holds ' .. num(have)
        .. ' of item ' .. item .. escrow .. ', gives ' .. num(s.qty[item])
    end
  end
  local held = giver.held_gold or 0
  if giver.gold - held < s.gold + s.fee then
    local escrow = held ~= 0 and ' (' .. num(held) .. ' held by open offers)' or ''
    local fee = s.fee ~= 0 and ' + fee ' .. num(s.fee) or ''
    return 'insufficient_gold', label .. ': player ' .. giver.id .. ' holds '
      .. num(giver.gold) .. ' gold' .. escrow .. ', gives ' .. num(s.gold) .. fee
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
  p.gold = p.gold - gives.gold - gives.fee + gets.gold
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
    local fees = ''
    if one.fee ~= 0 or two.fee ~= 0 then
      fees = ',"fees":[' .. num(one.fee) .. ',' .. num(two.fee) .. ']'
    end
    outcome = head .. ',"status":"accepted","executed_at":"' .. executed_at .. '","request":'
      .. request .. ',"player_1":' .. state_json(p1) .. ',"player_2":' .. state_json(p2)
      .. fees .. '}'
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
        .. ',"items_held":' .. num(new.held) .. (s.fee ~= 0 and ',"fee":' .. num(s.fee) or '')
        .. '}'
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
local at = 5
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
