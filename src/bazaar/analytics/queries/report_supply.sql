-- How the money supply (gold) and the catalog value of all items held changed per time
-- bucket of $bucket_us microseconds, up to $at: each player state's difference from the
-- player's previous state (a first state counts whole), summed per bucket. The running sum
-- of these changes is the supply at each bucket's end, measured from what players hold,
-- so a duplication bug shows here even though no legitimate trade changes the total.
WITH changes AS (
  SELECT unix_micros(s.at) - unix_micros(s.at) % $bucket_us AS bucket_us,
         gold - coalesce(lag(gold) OVER (PARTITION BY player_id ORDER BY version), 0)
           AS gold,
         items_value
           - coalesce(lag(items_value) OVER (PARTITION BY player_id ORDER BY version), 0)
           AS items_value
  FROM player_states s WHERE s.at <= $at
)
SELECT bucket_us, sum(gold) AS gold_change, sum(items_value) AS items_value_change
FROM changes
GROUP BY 1
ORDER BY 1
