"""The retained-records port for the Redis store (a part of RedisStore): retention marks,
and dropping trade records, resolved offers and their history entries once old enough.

Keys (besides the store's):

    {bazaar}:retention:marks    zset   "at|outbox head|trade head|offer head|clock", score: at
    {bazaar}:trades:archived    string highest trade id dropped (get_trade answers "archived"
                                       for a missing id up to it, "unknown" above it)
    {bazaar}:offers:archived    string highest offer id swept
    {bazaar}:offers:held        set    offer ids at or below it still open then: looked at
                                       again by every sweep until they resolve
    {bazaar}:retention:history  string last player id whose history set was swept (the
                                       sweep goes round the players a slice at a time)

Trades are dropped by a script in slices of ids (HDEL), so Redis never spends more than a
few milliseconds away from the trade path, and the archived mark moves with the slice.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from bazaar.store.redis_keyspace import RedisKeyspace
from bazaar.store.retained import Archived, RetentionMark

_TRADE_SLICE = 20_000  # ids per script run: ~5 ms of Redis time
_HISTORY_SLICE = 200  # players whose history set one sweep visits
_OFFER_SLICE = 10_000  # offers one sweep looks at (each a round trip's worth of reads)

# KEYS: marks, outbox seq, trade seq, offer seq, clock.  ARGV: at.  The heads are read in the
# same step, so the mark is one consistent instant of the store.
_MARK = r"""
local m = ARGV[1]
for i = 2, 5 do m = m .. '|' .. (redis.call('GET', KEYS[i]) or '0') end
redis.call('ZADD', KEYS[1], ARGV[1], m)
return m
"""

# KEYS: trades hash, archived mark.  ARGV: upto, slice.  Returns how many ids were passed.
_DROP_TRADES = r"""
local from = tonumber(redis.call('GET', KEYS[2])) or 0
local upto = math.min(tonumber(ARGV[1]), from + tonumber(ARGV[2]))
if upto <= from then return 0 end
local ids = {}
for id = from + 1, upto do
  ids[#ids + 1] = string.format('%.0f', id)
  if #ids == 4000 then
    redis.call('HDEL', KEYS[1], unpack(ids))
    ids = {}
  end
end
if #ids > 0 then redis.call('HDEL', KEYS[1], unpack(ids)) end
redis.call('SET', KEYS[2], string.format('%.0f', upto))
return upto - from
"""


def _mark(raw: bytes) -> RetentionMark:
    at, outbox, trade, offer, clock = raw.decode().split("|")
    return RetentionMark(float(at), int(outbox), int(trade), int(offer), int(clock))


class RedisRetention:
    """The retention half of RedisStore; reaches Redis through the store's RedisKeyspace."""

    if TYPE_CHECKING:  # provided by RedisStore
        redis: RedisKeyspace

    _drop_script: Any = None

    def add_retention_mark(self, at: float) -> RetentionMark:
        mark = self.redis.script("retention_mark", _MARK)
        keys = [
            self.redis.key("retention", "marks"),
            self.redis.key("seq", "outbox"),
            self.redis.key("seq", "trade"),
            self.redis.key("seq", "offer"),
            self.redis.key("clock"),
        ]
        return _mark(self.redis.call("retention mark", lambda: mark(keys, [repr(at)])))

    def _newest_mark(self, before: float) -> tuple[bytes, float] | None:
        rows = self.redis.call(
            "retention mark",
            lambda: self.redis.client.zrevrangebyscore(
                self.redis.key("retention", "marks"),
                before,
                "-inf",
                start=0,
                num=1,
                withscores=True,
            ),
        )
        return (rows[0][0], float(rows[0][1])) if rows else None

    def retention_mark(self, before: float) -> RetentionMark | None:
        newest = self._newest_mark(before)
        return _mark(newest[0]) if newest else None

    def prune_retention_marks(self, before: float) -> None:
        newest = self._newest_mark(before)
        if newest is not None:
            key = self.redis.key("retention", "marks")
            below = f"({newest[1]!r}"
            self.redis.call(
                "retention mark", lambda: self.redis.client.zremrangebyscore(key, "-inf", below)
            )

    def drop_trades(self, mark: RetentionMark, budget: int) -> int:
        drop = self.redis.script("drop_trades", _DROP_TRADES)
        keys = [self.redis.key("trades"), self.redis.key("trades", "archived")]
        passed = 0
        while passed < budget:
            step = min(_TRADE_SLICE, budget - passed)
            args = [mark.trade, step]
            n = int(self.redis.call("drop trades", partial(drop, keys, args)))
            passed += n
            if n < step:
                break
        self._sweep_history(mark.clock)
        return passed

    def _sweep_history(self, older_than: int) -> None:
        """Remove dropped trades' entries from a slice of the players' history sets (entries
        of offers leave with their offer, in drop_offers)."""
        cursor_key = self.redis.key("retention", "history")
        raw_cursor, raw_last = self.redis.call(
            "history sweep",
            lambda: self.redis.client.mget(cursor_key, self.redis.key("seq", "player")),
        )
        last_player = int(raw_last or 0)
        if last_player == 0 or older_than <= 0:
            return
        first = int(raw_cursor or 0) + 1
        if first > last_player:
            first = 1
        players = range(first, min(last_player, first + _HISTORY_SLICE - 1) + 1)

        def old_entries() -> list[Any]:
            pipe = self.redis.client.pipeline(transaction=False)
            for pid in players:
                pipe.zrangebyscore(self.redis.key("history", pid), "-inf", older_than)
            return list(pipe.execute())

        found = self.redis.call("history sweep", old_entries)

        def remove() -> None:
            pipe = self.redis.client.pipeline(transaction=False)
            for pid, members in zip(players, found, strict=True):
                trades = [m for m in members if m.startswith(b"t:")]
                if trades:
                    pipe.zrem(self.redis.key("history", pid), *trades)
            pipe.set(cursor_key, players[-1])
            pipe.execute()

        self.redis.call("history sweep", remove)

    def drop_offers(self, mark: RetentionMark, budget: int) -> int:
        archived_key, held_key = (
            self.redis.key("offers", "archived"),
            self.redis.key("offers", "held"),
        )

        def candidates() -> list[Any]:
            pipe = self.redis.client.pipeline(transaction=True)
            pipe.get(archived_key)
            pipe.smembers(held_key)
            return list(pipe.execute())

        raw_from, held = self.redis.call("drop offers", candidates)
        start = int(raw_from or 0)
        upto = min(mark.offer, start + min(budget, _OFFER_SLICE))
        ids = sorted({int(h) for h in held} | set(range(start + 1, upto + 1)))
        if not ids:
            return 0

        def docs() -> list[Any]:
            pipe = self.redis.client.pipeline(transaction=False)
            for oid in ids:
                pipe.hget(self.redis.key("offer", oid), "doc")
            return list(pipe.execute())

        found = self.redis.call("drop offers", docs)
        dropped = 0

        def drop() -> None:
            nonlocal dropped
            # An offer read as resolved never reopens, so deleting it now is safe; one read
            # as open is held and looked at again by the next sweep.
            pipe = self.redis.client.pipeline(transaction=True)
            for oid, raw in zip(ids, found, strict=True):
                doc = orjson.loads(raw) if raw is not None else None
                if doc is not None and doc["status"] == "open":
                    pipe.sadd(held_key, oid)
                    continue
                pipe.srem(held_key, oid)
                if doc is None:
                    continue
                dropped += 1
                pipe.delete(self.redis.key("offer", oid))
                for side in ("player_1", "player_2"):
                    pid = doc["request"][side]["player_id"]
                    pipe.zrem(self.redis.key("offers", pid), oid)
                    pipe.zrem(self.redis.key("history", pid), f"o:{oid}")
            if upto > start:
                pipe.set(archived_key, upto)
            pipe.execute()

        self.redis.call("drop offers", drop)
        return dropped

    def archived(self) -> Archived:
        trades, offers = self.redis.call(
            "archived",
            partial(
                self.redis.client.mget,
                self.redis.key("trades", "archived"),
                self.redis.key("offers", "archived"),
            ),
        )
        return Archived(int(trades or 0), int(offers or 0))
