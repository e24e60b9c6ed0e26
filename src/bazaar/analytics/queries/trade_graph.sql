-- The trade graph up to $at: players are nodes, a pair that traded is an edge.
WITH pairs AS (
  SELECT least(player_1_id, player_2_id) AS a, greatest(player_1_id, player_2_id) AS b,
         count(*) AS trades
  FROM trades WHERE executed_at <= $at
  GROUP BY 1, 2
),
nodes AS (
  SELECT a AS player_id FROM pairs UNION SELECT b AS player_id FROM pairs
),
heaviest AS (
  SELECT a, b, trades FROM pairs ORDER BY trades DESC, a ASC, b ASC LIMIT 1
),
totals AS (
  SELECT count(*) AS edges, coalesce(sum(trades), 0) AS trades FROM pairs
)
SELECT (SELECT count(*) FROM nodes) AS traders,
       (SELECT count(*) FROM players WHERE created_at <= $at) AS players,
       t.edges, t.trades,
       CASE WHEN t.edges = 0 THEN 0.0 ELSE CAST(t.trades AS DOUBLE) / t.edges END
         AS trades_per_edge,
       h.a AS heaviest_player_a, h.b AS heaviest_player_b, h.trades AS heaviest_trades
FROM totals t LEFT JOIN heaviest h ON TRUE
