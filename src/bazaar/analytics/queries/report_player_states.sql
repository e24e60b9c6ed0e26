-- Chosen players' holdings over time, up to $at: each player's last state in every time
-- bucket of $bucket_us microseconds in which it changed.
SELECT player_id, unix_micros(s.at) - unix_micros(s.at) % $bucket_us AS bucket_us,
       max_by(gold, version) AS gold, max_by(items_value, version) AS items_value,
       max_by(distinct_items, version) AS distinct_items, count(*) AS changes
FROM player_states s WHERE s.at <= $at AND player_id IN $players
GROUP BY 1, 2
ORDER BY 1, 2
