-- Faucets and sinks per time bucket of $bucket_us microseconds, up to $at: the logged
-- events that add supply to the game or take it out. Faucets: player creation and grants
-- (one flow per reason); sinks: consumptions (one flow per reason) and trade fees. Signs:
-- faucets add (+), sinks remove (-), so the flows' running sum is the money supply.
SELECT * FROM (
  SELECT unix_micros(s.at) - unix_micros(s.at) % $bucket_us AS bucket_us,
         'player creation' AS flow, 'faucet' AS direction,
         count(*) AS events, sum(gold) AS gold, sum(items_value) AS items_value
  FROM player_states s WHERE s.cause = 'created' AND s.at <= $at
  GROUP BY 1
  UNION ALL
  SELECT unix_micros(a.at) - unix_micros(a.at) % $bucket_us AS bucket_us,
         concat(a.kind, ': ', a.reason) AS flow,
         CASE WHEN a.kind = 'grant' THEN 'faucet' ELSE 'sink' END AS direction,
         count(*) AS events,
         sum(CASE WHEN a.kind = 'grant' THEN a.gold ELSE -a.gold END) AS gold,
         sum(CASE WHEN a.kind = 'grant' THEN a.items_value ELSE -a.items_value END)
           AS items_value
  FROM adjustments a WHERE a.at <= $at
  GROUP BY 1, 2, 3
  UNION ALL
  SELECT unix_micros(f.executed_at) - unix_micros(f.executed_at) % $bucket_us AS bucket_us,
         'trade fee' AS flow, 'sink' AS direction,
         count(*) AS events, -sum(f.fee) AS gold, 0 AS items_value
  FROM trade_fees f WHERE f.executed_at <= $at
  GROUP BY 1
) flows
ORDER BY bucket_us, direction, flow
