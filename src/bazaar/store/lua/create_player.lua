-- KEYS: player counter, idempotency, clock, outbox, outbox seq
-- ARGV: key prefix, class, username (or '' for the default), gold, capacity, fingerprint, event_id,
--       ttl, then (item_id, quantity) pairs of the class's starting stacks
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
