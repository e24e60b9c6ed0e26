"""Player history for the Redis store (a part of RedisStore): a player's trades and offers,
newest first, from the sorted sets `{bazaar}:history:<player>` (keys: redis_offers.py).

Trades reach the history sets lazily (at the next history read, from the trades hash), so
the trade script stays untouched and the trade hot path pays nothing for history.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from bazaar.domain.clock import instant_micros
from bazaar.domain.errors import ArchivedOffer, UnknownOffer
from bazaar.domain.model import PlayerState
from bazaar.domain.offers import Offer, check_cursor
from bazaar.domain.trading import outcome_from_document
from bazaar.store.base import HistoryEntry, HistoryPage
from bazaar.store.redis_keyspace import RedisKeyspace
from bazaar.store.retained import Archived

_INDEX_CHUNK = 1000


class RedisHistory:
    """The history half of RedisStore; reaches Redis through the store's RedisKeyspace."""

    if TYPE_CHECKING:  # provided by RedisStore
        redis: RedisKeyspace

        def get_player(self, player_id: int) -> PlayerState: ...
        def get_offer(self, offer_id: int) -> Offer: ...
        def archived(self) -> Archived: ...

    def _index_new_trades(self) -> None:
        """Copy trades written since the last history read into the players' history sets.
        Concurrent readers may copy the same trades: ZADD makes that harmless."""
        indexed_key = self.redis.key("history", "indexed")

        def positions() -> list[Any]:
            return list(self.redis.client.mget(indexed_key, self.redis.key("seq", "trade")))

        done_raw, head_raw = self.redis.call("history", positions)
        done, head = int(done_raw or 0), int(head_raw or 0)
        while done < head:
            ids = list(range(done + 1, min(head, done + _INDEX_CHUNK) + 1))
            docs = self.redis.call(
                "history", partial(self.redis.client.hmget, self.redis.key("trades"), ids)
            )
            pipe = self.redis.client.pipeline(transaction=False)
            for trade_id, raw in zip(ids, docs, strict=True):
                if raw is None:
                    continue
                doc = orjson.loads(raw)
                score = instant_micros(doc["executed_at"])
                for side in ("player_1", "player_2"):
                    pid = doc["request"][side]["player_id"]
                    pipe.zadd(self.redis.key("history", pid), {f"t:{trade_id}": score})
            pipe.set(indexed_key, ids[-1])
            self.redis.call("history", pipe.execute)
            done = ids[-1]

    def player_history(
        self, player_id: int, limit: int = 50, before: str | None = None
    ) -> HistoryPage:
        self.get_player(player_id)
        top: str = "+inf"
        if before is not None:
            check_cursor(before)
            top = f"({instant_micros(before)}"
        self._index_new_trades()
        members = self.redis.call(
            "history",
            lambda: self.redis.client.zrevrangebyscore(
                self.redis.key("history", player_id), top, "-inf", start=0, num=limit + 1
            ),
        )
        # An entry whose record the retention sweep dropped meanwhile is left out.
        found = [self._entry(m.decode()) for m in members[:limit]]
        entries = [e for e in found if e is not None]
        more = len(members) > limit
        cursor = entries[-1].at if more and entries else None
        archived = self.archived()
        return HistoryPage(
            entries, cursor, archived=cursor is None and (archived.trades or archived.offers) > 0
        )

    def _entry(self, member: str) -> HistoryEntry | None:
        kind, _, ref = member.partition(":")
        if kind == "t":
            raw = self.redis.call(
                "history", lambda: self.redis.client.hget(self.redis.key("trades"), ref)
            )
            if raw is None:
                return None
            trade = outcome_from_document(orjson.loads(raw))
            return HistoryEntry("trade", trade.executed_at, trade=trade)
        try:
            offer = self.get_offer(int(ref))
        except (UnknownOffer, ArchivedOffer):
            return None
        return HistoryEntry("offer", offer.created_at, offer=offer)
