-- Price history per item and time bucket of $bucket_us microseconds, up to $at: gold paid
-- per unit in trades of exactly one item line against gold only (a barter or a bundle has
-- no per-item price).
WITH sales AS (
  SELECT l.item_id, l.quantity,
         unix_micros(l.executed_at) - unix_micros(l.executed_at) % $bucket_us AS bucket_us,
         CASE WHEN l.receiver_id = t.player_1_id THEN t.player_1_gold ELSE t.player_2_gold END
           AS paid,
         CASE WHEN l.giver_id = t.player_1_id THEN t.player_1_gold ELSE t.player_2_gold END
           AS giver_gold
  FROM trade_items l JOIN trades t ON t.trade_id = l.trade_id
  WHERE t.item_lines = 1 AND l.executed_at <= $at
)
SELECT s.bucket_us, s.item_id, coalesce(i.name, concat('item ', CAST(s.item_id AS STRING)))
         AS name,
       i.value AS catalog_value, count(*) AS sales, sum(s.quantity) AS units,
       sum(s.paid) AS gold_paid,
       CAST(sum(s.paid) AS DOUBLE) / sum(s.quantity) AS mean_price
FROM sales s LEFT JOIN items i ON i.item_id = s.item_id
WHERE s.paid > 0 AND s.giver_gold = 0
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2
