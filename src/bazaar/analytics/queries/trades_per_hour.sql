-- Trades per hour (UTC) up to $at, accepted and rejected, with the value that moved.
WITH events AS (
  SELECT date_trunc('hour', executed_at) AS hour, 1 AS accepted, 0 AS rejected,
         player_1_gold + player_2_gold AS gold_moved,
         player_1_items_value + player_2_items_value AS items_value_moved
  FROM trades WHERE executed_at <= $at
  UNION ALL
  SELECT date_trunc('hour', executed_at) AS hour, 0 AS accepted, 1 AS rejected,
         0 AS gold_moved, 0 AS items_value_moved
  FROM rejected_trades WHERE executed_at <= $at
)
SELECT hour, sum(accepted) AS trades, sum(rejected) AS rejected,
       sum(gold_moved) AS gold_moved, sum(items_value_moved) AS items_value_moved
FROM events
GROUP BY hour
ORDER BY hour
