-- Escrow per time bucket of $bucket_us microseconds, up to $at: how much offers' holds
-- changed (held +, released and moved -), in gold (item_id 0) and in the catalog value of
-- the held items as the offer events carry it. The running sum of a column is what escrow
-- held at the end of each bucket; `offers_holding` (the same on every row) counts the
-- offers still holding something at $at.
WITH changes AS (
  SELECT unix_micros(h.at) - unix_micros(h.at) % $bucket_us AS bucket_us,
         sum(CASE WHEN h.item_id = 0 THEN h.quantity ELSE 0 END) AS gold,
         sum(CASE WHEN h.item_id = 0 THEN 0 ELSE coalesce(h.value, 0) END) AS items_value,
         sum(CASE WHEN h.item_id = 0 THEN 0 ELSE h.quantity END) AS item_units
  FROM holds h WHERE h.at <= $at
  GROUP BY 1
), holding AS (
  SELECT count(*) AS offers_holding FROM (
    SELECT o.offer_id FROM holds o WHERE o.at <= $at
    GROUP BY o.offer_id HAVING sum(o.quantity) <> 0
  ) still
)
SELECT c.bucket_us, c.gold, c.items_value, c.item_units, holding.offers_holding
FROM changes c CROSS JOIN holding
ORDER BY c.bucket_us
