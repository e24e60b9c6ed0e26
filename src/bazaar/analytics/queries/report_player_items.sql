-- Chosen players' quantity of each item over time, up to $at: the last quantity in every
-- time bucket of $bucket_us microseconds in which it changed.
WITH changes AS (
  SELECT h.player_id, unix_micros(h.at) - unix_micros(h.at) % $bucket_us AS bucket_us,
         h.item_id, max_by(h.quantity, h.version) AS quantity
  FROM holdings h WHERE h.at <= $at AND h.player_id IN $players
  GROUP BY 1, 2, 3
)
SELECT c.player_id, c.bucket_us, c.item_id,
       coalesce(i.name, concat('item ', CAST(c.item_id AS STRING))) AS name, c.quantity
FROM changes c LEFT JOIN items i ON i.item_id = c.item_id
ORDER BY 1, 2, 3
