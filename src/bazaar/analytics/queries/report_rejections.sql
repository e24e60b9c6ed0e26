-- Rejected trades per time bucket of $bucket_us microseconds and reason, up to $at.
SELECT unix_micros(executed_at) - unix_micros(executed_at) % $bucket_us AS bucket_us,
       reason, count(*) AS trades
FROM rejected_trades WHERE executed_at <= $at
GROUP BY 1, 2
ORDER BY 1, 2
