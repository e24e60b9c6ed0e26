"""The outbox reader port for the Redis store (a part of RedisStore): reading the stream,
consumer positions, and releasing what every registered consumer has passed.

Keys (besides the store's):

    {bazaar}:consumers          hash   consumer name -> last recorded seq
    {bazaar}:consumers:seen     hash   consumer name -> when it last registered or recorded
                                       (seconds since the epoch, the consumer's clock)
    {bazaar}:outbox:released    string highest seq released (entries up to it are gone)

A release is one script run: the lowest recorded position is read, the stream trimmed below
it and the released mark moved, with nothing in between; so a consumer that registers
meanwhile is either counted or finds its entries released and stops (OutboxReleased).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from bazaar.store.outbox import ConsumerPosition, OutboxEntry
from bazaar.store.redis_keyspace import RedisKeyspace

# KEYS: outbox stream, consumers hash, released mark.  ARGV: the highest seq retention allows.
# Returns {entries trimmed, released mark after}.
_RELEASE = r"""
local upto = tonumber(ARGV[1])
local positions = redis.call('HVALS', KEYS[2])
local released = tonumber(redis.call('GET', KEYS[3])) or 0
if #positions == 0 then return {0, released} end
for _, p in ipairs(positions) do
  local n = tonumber(p)
  if n < upto then upto = n end
end
if upto <= released then return {0, released} end
local trimmed = redis.call('XTRIM', KEYS[1], 'MINID', '0-' .. string.format('%.0f', upto + 1))
redis.call('SET', KEYS[3], string.format('%.0f', upto))
return {trimmed, upto}
"""


class RedisOutbox:
    """The outbox half of RedisStore; reaches Redis through the store's RedisKeyspace."""

    if TYPE_CHECKING:  # provided by RedisStore
        redis: RedisKeyspace

    def _outbox_rows(self, after: int, limit: int) -> list[tuple[int, dict[bytes, bytes]]]:
        """Up to `limit` outbox entries past seq `after`, as (seq, fields): an entry's stream
        id is `0-<seq>`, so the seq order is the stream's own."""
        if limit <= 0:
            return []
        rows = self.redis.call(
            "read_outbox",
            lambda: self.redis.client.xrange(self.redis.outbox, min=f"0-{after + 1}", count=limit),
        )
        return [(int(entry_id.split(b"-", 1)[1]), fields) for entry_id, fields in rows]

    def read_outbox(self, after: int = 0, limit: int = 1000) -> list[OutboxEntry]:
        return [
            OutboxEntry(
                seq=seq,
                event_id=fields[b"event_id"].decode(),
                event_type=fields[b"event_type"].decode(),
                occurred_at=fields[b"occurred_at"].decode(),
                key=fields[b"key"].decode(),
                body=fields[b"body"],
            )
            for seq, fields in self._outbox_rows(after, limit)
        ]

    def read_outbox_bodies(self, after: int = 0, limit: int = 1000) -> list[tuple[int, bytes]]:
        return [(seq, fields[b"body"]) for seq, fields in self._outbox_rows(after, limit)]

    def outbox_head(self) -> int:
        last = self.redis.call(
            "outbox_head", lambda: self.redis.client.get(self.redis.key("seq", "outbox"))
        )
        return int(last) if last else 0

    def outbox_released(self) -> int:
        mark = self.redis.call(
            "outbox_released", lambda: self.redis.client.get(self.redis.key("outbox", "released"))
        )
        return int(mark) if mark else 0

    def release_outbox(self, upto: int) -> int:
        if upto <= 0:
            return 0
        release = self.redis.script("release_outbox", _RELEASE)
        keys = [
            self.redis.outbox,
            self.redis.key("consumers"),
            self.redis.key("outbox", "released"),
        ]
        trimmed, _ = self.redis.call("release_outbox", lambda: release(keys, [upto]))
        return int(trimmed)

    def consumer_position(self, consumer: str) -> int:
        seq = self.redis.call(
            "consumer_position",
            lambda: self.redis.client.hget(self.redis.key("consumers"), consumer),
        )
        return int(seq) if seq else 0

    def commit_position(self, consumer: str, seq: int) -> None:
        def record() -> None:
            pipe = self.redis.client.pipeline(transaction=True)
            pipe.hset(self.redis.key("consumers"), consumer, seq)
            pipe.hset(self.redis.key("consumers", "seen"), consumer, repr(time.time()))
            pipe.execute()

        self.redis.call("commit_position", record)

    def consumers(self) -> list[ConsumerPosition]:
        def both() -> list[Any]:
            pipe = self.redis.client.pipeline(transaction=True)
            pipe.hgetall(self.redis.key("consumers"))
            pipe.hgetall(self.redis.key("consumers", "seen"))
            return list(pipe.execute())

        positions, seen = self.redis.call("consumers", both)
        return [
            ConsumerPosition(name.decode(), int(positions[name]), float(seen.get(name, 0)))
            for name in sorted(positions)
        ]

    def drop_consumer(self, consumer: str) -> bool:
        def drop() -> list[Any]:
            pipe = self.redis.client.pipeline(transaction=True)
            pipe.hdel(self.redis.key("consumers"), consumer)
            pipe.hdel(self.redis.key("consumers", "seen"), consumer)
            return list(pipe.execute())

        return bool(self.redis.call("drop_consumer", drop)[0])
