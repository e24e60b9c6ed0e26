-- The offer funnel up to $at: offers made (ordinary and counter-offers) and how many
-- reached each ending. One row per offer event in `offers`; an offer has exactly one
-- offer_created and at most one ending, so the counts are offers.
SELECT
  sum(CASE WHEN o.event_type = 'offer_created' THEN 1 ELSE 0 END) AS created,
  sum(CASE WHEN o.event_type = 'offer_accepted' THEN 1 ELSE 0 END) AS accepted,
  sum(CASE WHEN o.event_type = 'offer_declined' THEN 1 ELSE 0 END) AS declined,
  sum(CASE WHEN o.event_type = 'offer_countered' THEN 1 ELSE 0 END) AS countered,
  sum(CASE WHEN o.event_type = 'offer_expired' THEN 1 ELSE 0 END) AS expired,
  sum(CASE WHEN o.event_type = 'offer_cancelled' THEN 1 ELSE 0 END) AS cancelled,
  sum(CASE WHEN o.event_type = 'offer_failed' THEN 1 ELSE 0 END) AS failed
FROM offers o WHERE o.at <= $at
