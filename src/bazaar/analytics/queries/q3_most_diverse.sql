-- q3: the player state holding the most distinct items.
-- Ever ($snapshot FALSE): over every state begun up to $at. As of $at ($snapshot TRUE): over
-- each player's latest state at or before $at. Ties: earliest state, then lowest player_id.
WITH candidate AS (
  SELECT s.player_id, s.version, s.at AS state_at, s.distinct_items
  FROM player_states s WHERE s.at <= $at
),
latest AS (
  SELECT player_id, max(version) AS version FROM candidate GROUP BY player_id
),
considered AS (
  SELECT c.player_id, c.state_at, c.distinct_items FROM candidate c WHERE NOT $snapshot
  UNION ALL
  SELECT c.player_id, c.state_at, c.distinct_items
  FROM candidate c JOIN latest l ON l.player_id = c.player_id AND l.version = c.version
  WHERE $snapshot
),
best AS (
  SELECT player_id, state_at, distinct_items FROM considered
  ORDER BY distinct_items DESC, state_at ASC, player_id ASC
  LIMIT 1
)
SELECT b.player_id, p.username, b.distinct_items, b.state_at AS at
FROM best b LEFT JOIN players p ON p.player_id = b.player_id
