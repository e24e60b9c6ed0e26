-- Accepted trades and the value they moved per time bucket of $bucket_us microseconds
-- (buckets start on multiples of the width since the epoch, so minutes and days fall on
-- the clock's own boundaries), up to $at.
SELECT unix_micros(executed_at) - unix_micros(executed_at) % $bucket_us AS bucket_us,
       count(*) AS trades,
       sum(player_1_gold + player_2_gold) AS gold_moved,
       sum(player_1_items_value + player_2_items_value) AS items_value_moved
FROM trades WHERE executed_at <= $at
GROUP BY 1
ORDER BY 1
