-- Market prices: what an item sells for, per unit, as the market sets it. An item-for-gold
-- trade is one where one side gives a single item line and no gold and the other side gives
-- gold only; its unit price is the gold paid / the units sold. An item's market price is the
-- median unit price of its item-for-gold trades after $since (the trailing window before the
-- last trade at or before $at, prices.py) and up to $at (the median: one overpaid or giveaway
-- sale cannot move it). With fewer than $min_trades such trades the catalog value stands in
-- as the prior.
WITH recent AS (
  SELECT t.trade_id, t.player_1_id, t.player_1_gold, t.player_2_gold
  FROM trades t
  WHERE t.executed_at <= $at AND t.executed_at > $since AND t.item_lines = 1
    AND (t.player_1_gold = 0) <> (t.player_2_gold = 0)
),
sales AS (
  SELECT l.item_id,
         CAST(CASE WHEN l.giver_id = r.player_1_id THEN r.player_2_gold ELSE r.player_1_gold END
              AS DOUBLE) / l.quantity AS unit_price
  FROM trade_items l
  JOIN recent r ON r.trade_id = l.trade_id
  WHERE l.executed_at <= $at AND l.executed_at > $since
    AND (CASE WHEN l.giver_id = r.player_1_id THEN r.player_1_gold ELSE r.player_2_gold END) = 0
),
observed AS (
  SELECT item_id, count(*) AS sales, median(unit_price) AS median_price
  FROM sales GROUP BY item_id
)
SELECT i.item_id, i.name, i.value AS catalog_value, coalesce(o.sales, 0) AS sales,
       o.median_price,
       CASE WHEN coalesce(o.sales, 0) >= $min_trades THEN o.median_price
            ELSE CAST(i.value AS DOUBLE) END AS price,
       CASE WHEN coalesce(o.sales, 0) >= $min_trades THEN 'market' ELSE 'catalog' END AS source
FROM items i
LEFT JOIN observed o ON o.item_id = i.item_id
ORDER BY i.item_id
