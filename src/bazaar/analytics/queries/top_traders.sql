-- The most active traders up to $at (either side), with whom and how much value moved.
-- Value = gold + catalog value of items. Ties: lowest player_id.
WITH sides AS (
  SELECT player_1_id AS player_id, player_2_id AS counterparty,
         player_1_gold + player_1_items_value AS given,
         player_2_gold + player_2_items_value AS received
  FROM trades WHERE executed_at <= $at
  UNION ALL
  SELECT player_2_id AS player_id, player_1_id AS counterparty,
         player_2_gold + player_2_items_value AS given,
         player_1_gold + player_1_items_value AS received
  FROM trades WHERE executed_at <= $at
),
top AS (
  SELECT player_id, count(*) AS trades FROM sides
  GROUP BY player_id
  ORDER BY trades DESC, player_id ASC
  LIMIT $limit
)
SELECT t.player_id, p.username, p.player_class, t.trades,
       count(DISTINCT s.counterparty) AS counterparties,
       sum(s.given) AS value_given, sum(s.received) AS value_received
FROM top t
JOIN sides s ON s.player_id = t.player_id
LEFT JOIN players p ON p.player_id = t.player_id
GROUP BY t.player_id, p.username, p.player_class, t.trades
ORDER BY t.trades DESC, t.player_id ASC
