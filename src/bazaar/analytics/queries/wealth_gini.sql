-- Gini coefficient of gold and of item wealth across players, at $buckets evenly spaced
-- moments from the first player state to the last one at or before $at.
-- Each player's standing at moment k is its latest state at or before it: states are first
-- reduced to the last one per (player, bucket), so the per-moment work is players x buckets,
-- not one row per state; a player's bucket row then stands for every moment up to its next
-- bucket (lead), which yields each (moment, player) once without a second aggregation.
-- (floor, not CAST, turns doubles into integers: DuckDB's CAST rounds where Spark's
-- truncates.) Gini = sum((2i - n - 1) * x_i) / (n * sum(x)), x ascending.
WITH states AS (
  SELECT s.player_id, s.version, unix_micros(s.at) AS t, s.gold, s.items_value
  FROM player_states s WHERE s.at <= $at
),
bounds AS (
  SELECT min(t) AS t0, greatest(max(t) - min(t), 1) AS span FROM states
),
moments AS (
  SELECT k FROM $moments
),
per_bucket AS (
  SELECT s.player_id,
         greatest(CAST(ceil(CAST(s.t - b.t0 AS DOUBLE) * $buckets / b.span) AS BIGINT), 1)
           AS bucket,
         max_by(s.gold, s.version) AS gold,
         max_by(s.items_value, s.version) AS items_value
  FROM states s CROSS JOIN bounds b
  GROUP BY 1, 2
),
spans AS (
  SELECT player_id, bucket, gold, items_value,
         coalesce(lead(bucket) OVER (PARTITION BY player_id ORDER BY bucket), $buckets + 1)
           AS next_bucket
  FROM per_bucket
),
standing AS (
  SELECT m.k, s.player_id, s.gold, s.items_value
  FROM spans s JOIN moments m ON m.k >= s.bucket AND m.k < s.next_bucket
),
ranked AS (
  SELECT k, CAST(gold AS DOUBLE) AS gold, CAST(items_value AS DOUBLE) AS items_value,
         row_number() OVER (PARTITION BY k ORDER BY gold) AS gold_rank,
         row_number() OVER (PARTITION BY k ORDER BY items_value) AS items_rank,
         count(*) OVER (PARTITION BY k) AS n
  FROM standing
)
SELECT r.k AS moment_index,
       timestamp_micros(b.t0 + CAST(floor(CAST(b.span AS DOUBLE) * r.k / $buckets) AS BIGINT))
         AS moment,
       max(r.n) AS players,
       sum(r.gold) AS gold,
       sum(r.items_value) AS items_value,
       CASE WHEN sum(r.gold) = 0 THEN 0.0 ELSE
         sum((2 * r.gold_rank - r.n - 1) * r.gold) / (max(r.n) * sum(r.gold)) END AS gini_gold,
       CASE WHEN sum(r.items_value) = 0 THEN 0.0 ELSE
         sum((2 * r.items_rank - r.n - 1) * r.items_value) / (max(r.n) * sum(r.items_value))
       END AS gini_items
FROM ranked r CROSS JOIN bounds b
GROUP BY r.k, b.t0, b.span
ORDER BY r.k
