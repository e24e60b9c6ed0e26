-- The economy by player class, up to $at: how many players, how much they trade, what they
-- hold now (each player's latest state) and the value they gained net of what they gave.
WITH latest AS (
  SELECT player_id, max_by(gold, version) AS gold, max_by(items_value, version) AS items_value
  FROM player_states s WHERE s.at <= $at
  GROUP BY player_id
),
sides AS (
  SELECT player_1_id AS player_id, count(*) AS trades,
         sum(player_2_gold + player_2_items_value - player_1_gold - player_1_items_value)
           AS net_value
  FROM trades WHERE executed_at <= $at
  GROUP BY player_1_id
  UNION ALL
  SELECT player_2_id AS player_id, count(*) AS trades,
         sum(player_1_gold + player_1_items_value - player_2_gold - player_2_items_value)
           AS net_value
  FROM trades WHERE executed_at <= $at
  GROUP BY player_2_id
),
per_player AS (
  SELECT player_id, sum(trades) AS trades, sum(net_value) AS net_value
  FROM sides GROUP BY player_id
)
SELECT p.player_class, count(*) AS players,
       coalesce(sum(pp.trades), 0) AS trade_sides,
       coalesce(sum(l.gold), 0) AS gold,
       coalesce(sum(l.items_value), 0) AS items_value,
       CAST(coalesce(sum(l.gold), 0) + coalesce(sum(l.items_value), 0) AS DOUBLE) / count(*)
         AS mean_wealth,
       coalesce(sum(pp.net_value), 0) AS net_value_gained
FROM players p
LEFT JOIN latest l ON l.player_id = p.player_id
LEFT JOIN per_player pp ON pp.player_id = p.player_id
WHERE p.created_at <= $at
GROUP BY p.player_class
ORDER BY p.player_class
