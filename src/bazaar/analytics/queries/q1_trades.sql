-- q1: how many trades happened up to $at: accepted, and rejected.
-- The lake holds each event exactly once, so count(*) is the count of distinct trade ids.
SELECT
  (SELECT count(*) FROM trades WHERE executed_at <= $at) AS trades,
  (SELECT count(*) FROM rejected_trades WHERE executed_at <= $at) AS rejected
