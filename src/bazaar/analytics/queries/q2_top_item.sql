-- q2: the item that changed hands in the most accepted trades up to $at.
-- Both sides of one trade may give the same item: such a trade still counts once.
-- Ties: lowest item_id.
WITH moved AS (
  SELECT item_id, count(DISTINCT trade_id) AS trades, sum(quantity) AS quantity
  FROM trade_items
  WHERE executed_at <= $at
  GROUP BY item_id
)
SELECT m.item_id, coalesce(i.name, concat('item ', CAST(m.item_id AS STRING))) AS name,
       m.trades, m.quantity
FROM moved m
LEFT JOIN items i ON i.item_id = m.item_id
ORDER BY m.trades DESC, m.item_id ASC
LIMIT 1
