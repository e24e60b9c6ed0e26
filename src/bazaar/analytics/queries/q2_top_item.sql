-- q2: the item that changed hands in the most accepted trades up to $at.
-- Both sides of one trade may give the same item: such a trade still counts once. Ingest
-- merges item lines per side, so an item appears at most once per direction, and only in a
-- trade of several item lines (trades.item_lines > 1). Counting distinct trades is then
-- needed for those trades only: lines - repeats, instead of a distinct count over every line.
-- Ties: lowest item_id.
WITH lines AS (
  SELECT trade_id, item_id, quantity FROM trade_items WHERE executed_at <= $at
),
moved AS (
  SELECT item_id, count(*) AS lines, sum(quantity) AS quantity FROM lines GROUP BY item_id
),
repeats AS (
  SELECT item_id, count(*) - count(DISTINCT trade_id) AS repeats
  FROM lines
  WHERE trade_id IN (SELECT trade_id FROM trades WHERE item_lines > 1 AND executed_at <= $at)
  GROUP BY item_id
)
SELECT m.item_id, coalesce(i.name, concat('item ', CAST(m.item_id AS STRING))) AS name,
       m.lines - coalesce(r.repeats, 0) AS trades, m.quantity
FROM moved m
LEFT JOIN repeats r ON r.item_id = m.item_id
LEFT JOIN items i ON i.item_id = m.item_id
ORDER BY trades DESC, m.item_id ASC
LIMIT 1
