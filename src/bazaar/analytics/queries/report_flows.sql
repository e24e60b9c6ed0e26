-- Faucets and sinks per time bucket of $bucket_us microseconds, up to $at: the logged
-- events that add supply to the game or take it out. Player creation is the only one the
-- game has so far; grants (faucets), consumptions and fees (sinks) join here as UNION ALL
-- branches when their events exist. Signs: faucets add (+), sinks remove (-).
SELECT unix_micros(s.at) - unix_micros(s.at) % $bucket_us AS bucket_us,
       'player creation' AS flow, 'faucet' AS direction,
       count(*) AS events, sum(gold) AS gold, sum(items_value) AS items_value
FROM player_states s WHERE s.cause = 'created' AND s.at <= $at
GROUP BY 1
ORDER BY 1
