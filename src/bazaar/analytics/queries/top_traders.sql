-- The most active traders up to $at (either side), with whom and how much value moved.
-- Value = gold + catalog value of items. Ties: lowest player_id.
-- Each side is reduced per player before the union (no row per trade side is ever built),
-- and counterparties are counted only for the top players.
WITH sides AS (
  SELECT player_1_id AS player_id, count(*) AS trades,
         sum(player_1_gold + player_1_items_value) AS given,
         sum(player_2_gold + player_2_items_value) AS received
  FROM trades WHERE executed_at <= $at
  GROUP BY player_1_id
  UNION ALL
  SELECT player_2_id AS player_id, count(*) AS trades,
         sum(player_2_gold + player_2_items_value) AS given,
         sum(player_1_gold + player_1_items_value) AS received
  FROM trades WHERE executed_at <= $at
  GROUP BY player_2_id
),
top AS (
  SELECT player_id, sum(trades) AS trades, sum(given) AS given, sum(received) AS received
  FROM sides
  GROUP BY player_id
  ORDER BY trades DESC, player_id ASC
  LIMIT $limit
),
partners AS (
  SELECT player_1_id AS player_id, player_2_id AS counterparty
  FROM trades WHERE executed_at <= $at AND player_1_id IN (SELECT player_id FROM top)
  UNION ALL
  SELECT player_2_id AS player_id, player_1_id AS counterparty
  FROM trades WHERE executed_at <= $at AND player_2_id IN (SELECT player_id FROM top)
),
counterparties AS (
  SELECT player_id, count(DISTINCT counterparty) AS counterparties
  FROM partners GROUP BY player_id
)
SELECT t.player_id, p.username, p.player_class, t.trades, c.counterparties,
       t.given AS value_given, t.received AS value_received
FROM top t
JOIN counterparties c ON c.player_id = t.player_id
LEFT JOIN players p ON p.player_id = t.player_id
ORDER BY t.trades DESC, t.player_id ASC
