-- Item velocity up to $at: units moved by accepted trades / units in existence.
-- Units in existence = the supply created with players (trades only move units), so the
-- denominator is read from each player's creation holdings.
WITH created_states AS (
  SELECT s.player_id, s.version FROM player_states s
  WHERE s.cause = 'created' AND s.at <= $at
),
supply AS (
  SELECT h.item_id, sum(h.quantity) AS units
  FROM holdings h
  JOIN created_states c ON c.player_id = h.player_id AND c.version = h.version
  GROUP BY h.item_id
),
lines AS (
  SELECT trade_id, item_id, quantity FROM trade_items WHERE executed_at <= $at
),
-- Trades per item counted once, as in q2: only trades of several item lines can carry an
-- item twice (once per side), so only their lines need a distinct count.
repeats AS (
  SELECT item_id, count(*) - count(DISTINCT trade_id) AS repeats
  FROM lines
  WHERE trade_id IN (SELECT trade_id FROM trades WHERE item_lines > 1 AND executed_at <= $at)
  GROUP BY item_id
),
moved AS (
  SELECT l.item_id, l.units, l.lines - coalesce(r.repeats, 0) AS trades
  FROM (SELECT item_id, sum(quantity) AS units, count(*) AS lines FROM lines GROUP BY item_id) l
  LEFT JOIN repeats r ON r.item_id = l.item_id
),
known AS (
  SELECT item_id FROM supply UNION SELECT item_id FROM moved
)
SELECT k.item_id, coalesce(i.name, concat('item ', CAST(k.item_id AS STRING))) AS name,
       coalesce(i.value, 0) AS value,
       coalesce(s.units, 0) AS units_in_existence,
       coalesce(m.units, 0) AS units_moved,
       coalesce(m.trades, 0) AS trades,
       CASE WHEN coalesce(s.units, 0) = 0 THEN NULL
            ELSE CAST(coalesce(m.units, 0) AS DOUBLE) / s.units END AS velocity
FROM known k
LEFT JOIN supply s ON s.item_id = k.item_id
LEFT JOIN moved m ON m.item_id = k.item_id
LEFT JOIN items i ON i.item_id = k.item_id
ORDER BY velocity DESC NULLS LAST, k.item_id ASC
