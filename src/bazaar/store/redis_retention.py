"""The retained-records port for the Redis store (mixed into RedisStore): retention marks,
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

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from bazaar.store.retained import Archived, RetentionMark

if TYPE_CHECKING:
    import redis

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
    """The retention half of RedisStore; relies on its client, key helpers, error mapping."""

    if TYPE_CHECKING:  # provided by RedisStore
        client: redis.Redis

        def _key(self, *parts: object) -> str: ...
        def _call(self, what: str, action: Callable[[], Any]) -> Any: ...

    _mark_script: Any = None
    _drop_script: Any = None

    def add_retention_mark(self, at: float) -> RetentionMark:
        if self._mark_script is None:
            self._mark_script = self.client.register_script(_MARK)
        keys = [
            self._key("retention", "marks"),
            self._key("seq", "outbox"),
            self._key("seq", "trade"),
            self._key("seq", "offer"),
            self._key("clock"),
        ]
        return _mark(self._call("retention mark", lambda: self._mark_script(keys, [repr(at)])))

    def _newest_mark(self, before: float) -> tuple[bytes, float] | None:
        rows = self._call(
            "retention mark",
            lambda: self.client.zrevrangebyscore(
                self._key("retention", "marks"), before, "-inf", start=0, num=1, withscores=True
            ),
        )
        return (rows[0][0], float(rows[0][1])) if rows else None

    def retention_mark(self, before: float) -> RetentionMark | None:
        newest = self._newest_mark(before)
        return _mark(newest[0]) if newest else None

    def prune_retention_marks(self, before: float) -> None:
        newest = self._newest_mark(before)
        if newest is not None:
            key = self._key("retention", "marks")
            below = f"({newest[1]!r}"
            self._call("retention mark", lambda: self.client.zremrangebyscore(key, "-inf", below))

    def drop_trades(self, mark: RetentionMark, budget: int) -> int:
        if self._drop_script is None:
            self._drop_script = self.client.register_script(_DROP_TRADES)
        keys = [self._key("trades"), self._key("trades", "archived")]
        passed = 0
        while passed < budget:
            step = min(_TRADE_SLICE, budget - passed)
            args = [mark.trade, step]
            n = int(self._call("drop trades", partial(self._drop_script, keys, args)))
            passed += n
            if n < step:
                break
        self._sweep_history(mark.clock)
        return passed

    def _sweep_history(self, older_than: int) -> None:
        """Remove dropped trades' entries from a slice of the players' history sets (entries
        of offers leave with their offer, in drop_offers)."""
        cursor_key = self._key("retention", "history")
        raw_cursor, raw_last = self._call(
            "history sweep", lambda: self.client.mget(cursor_key, self._key("seq", "player"))
        )
        last_player = int(raw_last or 0)
        if last_player == 0 or older_than <= 0:
            return
        first = int(raw_cursor or 0) + 1
        if first > last_player:
            first = 1
        players = range(first, min(last_player, first + _HISTORY_SLICE - 1) + 1)

        def old_entries() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for pid in players:
                pipe.zrangebyscore(self._key("history", pid), "-inf", older_than)
            return list(pipe.execute())

        found = self._call("history sweep", old_entries)

        def remove() -> None:
            pipe = self.client.pipeline(transaction=False)
            for pid, members in zip(players, found, strict=True):
                trades = [m for m in members if m.startswith(b"t:")]
                if trades:
                    pipe.zrem(self._key("history", pid), *trades)
            pipe.set(cursor_key, players[-1])
            pipe.execute()

        self._call("history sweep", remove)

    def drop_offers(self, mark: RetentionMark, budget: int) -> int:
        archived_key, held_key = self._key("offers", "archived"), self._key("offers", "held")

        def candidates() -> list[Any]:
            pipe = self.client.pipeline(transaction=True)
            pipe.get(archived_key)
            pipe.smembers(held_key)
            return list(pipe.execute())

        raw_from, held = self._call("drop offers", candidates)
        start = int(raw_from or 0)
        upto = min(mark.offer, start + min(budget, _OFFER_SLICE))
        ids = sorted({int(h) for h in held} | set(range(start + 1, upto + 1)))
        if not ids:
            return 0

        def docs() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for oid in ids:
                pipe.hget(self._key("offer", oid), "doc")
            return list(pipe.execute())

        found = self._call("drop offers", docs)
        dropped = 0

        def drop() -> None:
            nonlocal dropped
            # An offer read as resolved never reopens, so deleting it now is safe; one read
            # as open is held and looked at again by the next sweep.
            pipe = self.client.pipeline(transaction=True)
            for oid, raw in zip(ids, found, strict=True):
                doc = orjson.loads(raw) if raw is not None else None
                if doc is not None and doc["status"] == "open":
                    pipe.sadd(held_key, oid)
                    continue
                pipe.srem(held_key, oid)
                if doc is None:
                    continue
                dropped += 1
                pipe.delete(self._key("offer", oid))
                for side in ("player_1", "player_2"):
                    pid = doc["request"][side]["player_id"]
                    pipe.zrem(self._key("offers", pid), oid)
                    pipe.zrem(self._key("history", pid), f"o:{oid}")
            if upto > start:
                pipe.set(archived_key, upto)
            pipe.execute()

        self._call("drop offers", drop)
        return dropped

    def archived(self) -> Archived:
        trades, offers = self._call(
            "archived",
            partial(
                self.client.mget, self._key("trades", "archived"), self._key("offers", "archived")
            ),
        )
        return Archived(int(trades or 0), int(offers or 0))
