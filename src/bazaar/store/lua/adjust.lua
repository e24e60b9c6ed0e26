-- A grant or a consumption (domain/grants.py), decided in Python on the state it read and
-- written here only if that state has not moved (compare-and-set), with its event and its
-- idempotency record, in one atomic step. The id and the instant are the script's own:
-- @@ADJ@@ and @@AT1@@ in the documents are filled in here.
-- KEYS: clock, outbox stream, outbox seq, adjustment counter, idempotency
-- ARGV: prefix, player id, expected version, expected hv ('' = not compared), fingerprint
--       ('' = no key), idempotency ttl, event id, event type, event body, result document,
--       n; n x (field, value) to set, n; n x field to delete
-- Returns {'ok', result}, {'dup', result}, {'reused'} or {'conflict'}.
local seen = claimed(KEYS[5], ARGV[5])
if seen then return seen end
local key = ARGV[1] .. 'player:' .. ARGV[2]
local moved = redis.call('HMGET', key, 'version', 'hv')
if (moved[1] or '') ~= ARGV[3] then return {'conflict'} end
if ARGV[4] ~= '' and (moved[2] or '0') ~= ARGV[4] then return {'conflict'} end

local id = num((tonumber(redis.call('GET', KEYS[4])) or 0) + 1)
local now = clock_now(KEYS[1]) + 1
local at = format_instant(now)
local function fill(text)
  return (string.gsub(string.gsub(text, '@@ADJ@@', id), '@@AT1@@', at))
end
local body, result = fill(ARGV[9]), fill(ARGV[10])
append_outbox(KEYS[2], KEYS[3], ARGV[7], ARGV[8], at, ARGV[2], body)
redis.call('SET', KEYS[1], num(now))
redis.call('SET', KEYS[4], id)
local n_set = tonumber(ARGV[11])
if n_set > 0 then redis.call('HSET', key, unpack(ARGV, 12, 11 + 2 * n_set)) end
local n_del = tonumber(ARGV[12 + 2 * n_set])
if n_del > 0 then redis.call('HDEL', key, unpack(ARGV, 13 + 2 * n_set, 12 + 2 * n_set + n_del)) end
remember(KEYS[5], ARGV[5], ARGV[6], result)
return {'ok', result}
