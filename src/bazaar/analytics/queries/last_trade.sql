-- The instant of the last accepted trade at or before $at (null on a lake without trades).
SELECT max(executed_at) AS last FROM trades WHERE executed_at <= $at
