-- Trades per hour (UTC) up to $at, accepted and rejected, with the value that moved.
-- Hours are cut on epoch microseconds (date_trunc on a zoned timestamp costs DuckDB a
-- calendar computation per row), and each table is reduced to hours before the two meet.
WITH accepted AS (
  SELECT unix_micros(executed_at) - unix_micros(executed_at) % 3600000000 AS hour_us,
         count(*) AS trades,
         sum(player_1_gold + player_2_gold) AS gold_moved,
         sum(player_1_items_value + player_2_items_value) AS items_value_moved
  FROM trades WHERE executed_at <= $at
  GROUP BY 1
),
rejected AS (
  SELECT unix_micros(executed_at) - unix_micros(executed_at) % 3600000000 AS hour_us,
         count(*) AS rejected
  FROM rejected_trades WHERE executed_at <= $at
  GROUP BY 1
)
SELECT timestamp_micros(coalesce(a.hour_us, r.hour_us)) AS hour,
       coalesce(a.trades, 0) AS trades, coalesce(r.rejected, 0) AS rejected,
       coalesce(a.gold_moved, 0) AS gold_moved,
       coalesce(a.items_value_moved, 0) AS items_value_moved
FROM accepted a
FULL OUTER JOIN rejected r ON r.hour_us = a.hour_us
ORDER BY hour
