-- The first and last event instant up to $at (epoch microseconds): the span the report's
-- time buckets cover. Each table is reduced to one row before they meet.
WITH spans AS (
  SELECT min(unix_micros(created_at)) AS first_us, max(unix_micros(created_at)) AS last_us
  FROM players WHERE created_at <= $at
  UNION ALL
  SELECT min(unix_micros(executed_at)), max(unix_micros(executed_at))
  FROM trades WHERE executed_at <= $at
  UNION ALL
  SELECT min(unix_micros(executed_at)), max(unix_micros(executed_at))
  FROM rejected_trades WHERE executed_at <= $at
  UNION ALL
  SELECT min(unix_micros(a.at)), max(unix_micros(a.at)) FROM adjustments a WHERE a.at <= $at
)
SELECT min(first_us) AS first_us, max(last_us) AS last_us FROM spans
