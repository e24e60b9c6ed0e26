-- Chosen players' counterparties up to $at: trades with each and the value that moved
-- each way (gold + catalog value of items), heaviest first.
WITH sides AS (
  SELECT player_1_id AS player_id, player_2_id AS counterparty,
         player_1_gold + player_1_items_value AS given,
         player_2_gold + player_2_items_value AS received
  FROM trades WHERE executed_at <= $at AND player_1_id IN $players
  UNION ALL
  SELECT player_2_id, player_1_id, player_2_gold + player_2_items_value,
         player_1_gold + player_1_items_value
  FROM trades WHERE executed_at <= $at AND player_2_id IN $players
)
SELECT s.player_id, s.counterparty, p.username, count(*) AS trades,
       sum(s.given) AS value_given, sum(s.received) AS value_received
FROM sides s LEFT JOIN players p ON p.player_id = s.counterparty
GROUP BY 1, 2, 3
ORDER BY 1, 4 DESC, 2
