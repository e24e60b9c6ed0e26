-- q4: the player state holding the most valuable items (quantity x catalog value, computed by
-- the server in the same step as the trade); that state's gold is reported beside it.
-- Same "ever" / "as of $at" choice and tie rule as q3.
WITH candidate AS (
  SELECT s.player_id, s.version, s.at AS state_at, s.items_value, s.gold
  FROM player_states s WHERE s.at <= $at
),
latest AS (
  SELECT player_id, max(version) AS version FROM candidate GROUP BY player_id
),
considered AS (
  SELECT c.player_id, c.state_at, c.items_value, c.gold FROM candidate c WHERE NOT $snapshot
  UNION ALL
  SELECT c.player_id, c.state_at, c.items_value, c.gold
  FROM candidate c JOIN latest l ON l.player_id = c.player_id AND l.version = c.version
  WHERE $snapshot
),
best AS (
  SELECT player_id, state_at, items_value, gold FROM considered
  ORDER BY items_value DESC, state_at ASC, player_id ASC
  LIMIT 1
)
SELECT b.player_id, p.username, b.items_value, b.gold, b.state_at AS at
FROM best b LEFT JOIN players p ON p.player_id = b.player_id
