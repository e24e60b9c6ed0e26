-- The trade graph up to $at: players are nodes, a pair that traded is an edge.
-- Edges are counted by sorting, not grouping: with uniform partners almost every trade is a
-- new pair, and ranking the sorted pair keys (10 M rows: ~0.6 s on DuckDB) beats a hash
-- aggregate holding ~10 M groups (~0.9 s). `nth` numbers a pair's trades 1, 2, ...: a pair's
-- first trade is an edge, its largest `nth` is its weight. A pair key packs both ids
-- (smaller first) into one BIGINT, so ordering by it orders by (a, b).
WITH keyed AS (
  SELECT shiftleft(least(player_1_id, player_2_id), 32) + greatest(player_1_id, player_2_id)
           AS pair
  FROM trades WHERE executed_at <= $at
),
runs AS (
  SELECT pair, row_number() OVER w - rank() OVER w + 1 AS nth
  FROM keyed WINDOW w AS (ORDER BY pair)
),
totals AS (
  SELECT sum(CASE WHEN nth = 1 THEN 1 ELSE 0 END) AS edges, count(*) AS trades FROM runs
),
heaviest AS (
  SELECT shiftright(pair, 32) AS a, pair - shiftleft(shiftright(pair, 32), 32) AS b,
         nth AS trades
  FROM runs ORDER BY nth DESC, pair ASC LIMIT 1
)
-- A player's version 2 is the state after their first accepted trade: a trader.
SELECT (SELECT count(*) FROM player_states s WHERE s.version = 2 AND s.at <= $at) AS traders,
       (SELECT count(*) FROM players WHERE created_at <= $at) AS players,
       coalesce(t.edges, 0) AS edges, t.trades,
       CASE WHEN coalesce(t.edges, 0) = 0 THEN 0.0 ELSE CAST(t.trades AS DOUBLE) / t.edges END
         AS trades_per_edge,
       h.a AS heaviest_player_a, h.b AS heaviest_player_b, h.trades AS heaviest_trades
FROM totals t LEFT JOIN heaviest h ON TRUE
