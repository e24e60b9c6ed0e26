"""Offers, player tokens and player history for the Redis store (mixed into RedisStore).

An offer transition is decided in Python with the domain's own code (`execute_trade` for an
accept, `domain.offers` for the state machine) on the states just read, then written by ONE
Lua script that first checks nothing it depends on moved (compare-and-set): the offer's
status and, for an accept, both players' versions. If anything moved, nothing is written and
the step is recomputed on fresh states; so racing accepts, or an accept racing a cancel,
resolve to exactly one winner, and a trade always runs against the states at accept time.

What the script alone can know (the event instants from the store clock, the trade id from
the trade counter) is left as placeholders (`@@AT1@@`, `@@TRADE@@`, ...) in the documents
Python builds, and filled in by the script; the clock and outbox helpers are the trade
scripts' own (`store/lua/common.lua`), so instants stay strictly increasing across every
kind of write.

Keys (besides the store's):

    {bazaar}:seq:offer          string last offer id
    {bazaar}:offer:<id>         hash   status, doc (Offer.to_document(), JSON)
    {bazaar}:offers:<player>    zset   offer ids made by or to the player (score: the id)
    {bazaar}:history:<player>   zset   "o:<offer id>" / "t:<trade id>", score: the instant
                                       (microseconds since the epoch; unique per store)
    {bazaar}:history:indexed    string last trade id copied into the history sets

Player tokens: store/redis_tokens.py.

Trades reach the history sets lazily (at the next history read, from the trades hash), so
the trade script stays untouched and the trade hot path pays nothing for history.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from bazaar.codec import encode_event
from bazaar.domain.catalog import Catalog
from bazaar.domain.clock import format_instant, instant_micros
from bazaar.domain.errors import ArchivedOffer, OfferNotOpen, StoreUnavailable, UnknownOffer
from bazaar.domain.events import Event, trade_event
from bazaar.domain.model import PlayerState, TradeRequest
from bazaar.domain.offers import (
    Actor,
    Offer,
    OfferAction,
    OfferStatus,
    check_actor,
    check_cursor,
    check_open,
    expired,
    offer_event,
    resolved,
    settled,
)
from bazaar.domain.trading import Accepted, execute_trade, outcome_from_document
from bazaar.store.base import HistoryEntry, HistoryPage, OfferResult
from bazaar.store.redis_scripts import offer_step_script
from bazaar.store.retained import Archived

if TYPE_CHECKING:
    import redis

# Recomputations before giving up on an offer whose players keep trading meanwhile.
MAX_ATTEMPTS = 64
_INDEX_CHUNK = 1000
_TRADE_SENTINEL = 4_503_599_627_370_497  # replaced by @@TRADE@@ before the script runs


def _body(event: Event) -> bytes:
    """The event's bytes from the codec, with the placeholders the script fills in."""
    return _placeholders(encode_event(event))


class _Step:
    """The argument list of one offer step, built in the script's order."""

    def __init__(self) -> None:
        self.cas: list[tuple[int, int]] = []
        self.writes: list[tuple[int, list[str], list[str]]] = []
        self.events: list[Event] = []
        self.index: list[tuple[str, str, str]] = []

    def args(self, head: list[str | int]) -> list[str | int | bytes]:
        out: list[str | int | bytes] = [*head, len(self.cas)]
        for pid, version in self.cas:
            out += [pid, version]
        out.append(len(self.writes))
        for pid, sets, dels in self.writes:
            out += [pid, len(sets) // 2, *sets, len(dels), *dels]
        out.append(len(self.events))
        for event in self.events:
            out += [event.event_id, event.event_type, event.key, _body(event)]
        out.append(len(self.index))
        for suffix, member, score in self.index:
            out += [suffix, member, score]
        return out


def _player_writes(old: PlayerState, new: PlayerState) -> tuple[int, list[str], list[str]]:
    sets = ["gold", str(new.gold), "version", str(new.version)]
    for item_id, quantity in new.items.items():
        if old.items.get(item_id) != quantity:
            sets += [f"item:{item_id}", str(quantity)]
    gone = [f"item:{i}" for i in old.items if i not in new.items]
    return new.player_id, sets, gone


class RedisOffers:
    """The offer half of RedisStore; relies on its client, key helpers and error mapping."""

    catalog: Catalog

    if TYPE_CHECKING:  # provided by RedisStore
        client: redis.Redis
        prefix: str
        _outbox: str

        def _key(self, *parts: object) -> str: ...
        def _call(self, what: str, action: Callable[[], Any]) -> Any: ...
        def get_player(self, player_id: int) -> PlayerState: ...
        def archived(self) -> Archived: ...

    _offer_script: Any = None

    def _run_step(self, offer_id: int, head: Sequence[str | int], step: _Step) -> list[bytes]:
        if self._offer_script is None:
            self._offer_script = self.client.register_script(offer_step_script(self.catalog))
        keys = [
            self._key("clock"),
            self._outbox,
            self._key("seq", "outbox"),
            self._key("seq", "trade"),
            self._key("trades"),
        ]
        args = step.args([self.prefix, offer_id, *head])
        reply: list[bytes] = self._call("offer step", lambda: self._offer_script(keys, args))
        return reply

    # -- offers --------------------------------------------------------------------------

    def create_offer(self, request: TradeRequest, ttl_seconds: int) -> Offer:
        self.get_player(request.player_1.player_id)  # UnknownPlayer: nothing written
        self.get_player(request.player_2.player_id)  # (players are never deleted)
        counter = self._key("seq", "offer")
        offer_id = int(self._call("create_offer", lambda: self.client.incr(counter)))
        template = Offer(offer_id, request, OfferStatus.OPEN, "@@AT1@@", "@@EXP@@")
        step = _Step()
        step.events.append(offer_event(self.catalog, template, event_id=str(uuid.uuid4())))
        for pid in (template.from_player_id, template.to_player_id):
            step.index.append((f"offers:{pid}", str(offer_id), str(offer_id)))
            step.index.append((f"history:{pid}", f"o:{offer_id}", "@1"))
        doc = orjson.dumps(template.to_document()).decode()
        head: list[str | int] = [
            "",
            "",
            ttl_seconds * 1_000_000,
            "0",
            OfferStatus.OPEN.value,
            doc,
            "",
        ]
        reply = self._run_step(offer_id, head, step)
        if reply[0] != b"ok":  # the id came from INCR: nobody else can hold it
            raise StoreUnavailable(f"offer {offer_id} could not be created: {reply[0]!r}")
        return Offer.from_document(orjson.loads(reply[1]))

    def get_offer(self, offer_id: int) -> Offer:
        raw = self._call("get_offer", lambda: self.client.hget(self._key("offer", offer_id), "doc"))
        if raw is None:
            if 0 < offer_id <= self.archived().offers:
                raise ArchivedOffer(offer_id)
            raise UnknownOffer(offer_id)
        return Offer.from_document(orjson.loads(raw))

    def list_offers(
        self, player_id: int, status: OfferStatus | None = None, limit: int = 100
    ) -> list[Offer]:
        self.get_player(player_id)
        ids = self._call(
            "list_offers", lambda: self.client.zrevrange(self._key("offers", player_id), 0, -1)
        )

        def docs() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for oid in ids:
                pipe.hget(self._key("offer", oid.decode()), "doc")
            return pipe.execute()

        now = format_instant(datetime.now(UTC))
        raws = self._call("list_offers", docs)
        offers = [Offer.from_document(orjson.loads(d)).seen_at(now) for d in raws if d]
        return [o for o in offers if status is None or o.status is status][:limit]

    def act_on_offer(self, offer_id: int, action: OfferAction, actor: Actor) -> OfferResult:
        force_expiry = False
        for _ in range(MAX_ATTEMPTS):
            offer = self.get_offer(offer_id)
            check_actor(offer, action, actor)
            check_open(offer)
            now = format_instant(datetime.now(UTC))
            if force_expiry or offer.is_due(now):
                reply = self._expire(offer)
                if reply[0] == b"ok":
                    raise OfferNotOpen(offer_id, OfferStatus.EXPIRED.value)
                continue  # someone else moved it first: re-read and report that
            step = _Step()
            trade_doc = ""
            with_trade = "0"
            if action is OfferAction.ACCEPT:
                p1 = self.get_player(offer.from_player_id)
                p2 = self.get_player(offer.to_player_id)
                step.cas += [(p1.player_id, p1.version), (p2.player_id, p2.version)]
                outcome = execute_trade(
                    self.catalog, offer.request, p1, p2,
                    trade_id=_TRADE_SENTINEL, executed_at="@@AT1@@",
                )  # fmt: skip
                step.events.append(trade_event(self.catalog, outcome, event_id=str(uuid.uuid4())))
                if isinstance(outcome, Accepted):
                    step.writes.append(_player_writes(p1, outcome.player_1))
                    step.writes.append(_player_writes(p2, outcome.player_2))
                after = settled(offer, actor, outcome, "@@AT2@@")
                trade_doc = _body_text(outcome.to_document())
                with_trade = "1"
            else:
                after = resolved(offer, action, actor, "@@AT1@@")
            step.events.append(offer_event(self.catalog, after, event_id=str(uuid.uuid4())))
            head: list[str | int] = [
                OfferStatus.OPEN.value,
                instant_micros(offer.expires_at),
                "",
                with_trade,
                after.status.value,
                _body_text(after.to_document()),
                trade_doc,
            ]
            reply = self._run_step(offer_id, head, step)
            if reply[0] == b"ok":
                trade = outcome_from_document(orjson.loads(reply[2])) if reply[2] else None
                return OfferResult(Offer.from_document(orjson.loads(reply[1])), trade)
            force_expiry = reply[0] == b"expired"
        raise StoreUnavailable(f"offer {offer_id}: its players kept changing; try again")

    def _expire(self, offer: Offer) -> list[bytes]:
        after = expired(offer, "@@AT1@@")
        step = _Step()
        step.events.append(offer_event(self.catalog, after, event_id=str(uuid.uuid4())))
        doc = _body_text(after.to_document())
        head: list[str | int] = [OfferStatus.OPEN.value, "", "", "0", after.status.value, doc, ""]
        return self._run_step(offer.offer_id, head, step)

    # -- history -------------------------------------------------------------------------

    def _index_new_trades(self) -> None:
        """Copy trades written since the last history read into the players' history sets.
        Concurrent readers may copy the same trades: ZADD makes that harmless."""
        indexed_key = self._key("history", "indexed")

        def positions() -> list[Any]:
            return list(self.client.mget(indexed_key, self._key("seq", "trade")))

        done_raw, head_raw = self._call("history", positions)
        done, head = int(done_raw or 0), int(head_raw or 0)
        while done < head:
            ids = list(range(done + 1, min(head, done + _INDEX_CHUNK) + 1))
            docs = self._call("history", partial(self.client.hmget, self._key("trades"), ids))
            pipe = self.client.pipeline(transaction=False)
            for trade_id, raw in zip(ids, docs, strict=True):
                if raw is None:
                    continue
                doc = orjson.loads(raw)
                score = instant_micros(doc["executed_at"])
                for side in ("player_1", "player_2"):
                    pid = doc["request"][side]["player_id"]
                    pipe.zadd(self._key("history", pid), {f"t:{trade_id}": score})
            pipe.set(indexed_key, ids[-1])
            self._call("history", pipe.execute)
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
        members = self._call(
            "history",
            lambda: self.client.zrevrangebyscore(
                self._key("history", player_id), top, "-inf", start=0, num=limit + 1
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
            raw = self._call("history", lambda: self.client.hget(self._key("trades"), ref))
            if raw is None:
                return None
            trade = outcome_from_document(orjson.loads(raw))
            return HistoryEntry("trade", trade.executed_at, trade=trade)
        try:
            offer = self.get_offer(int(ref))
        except (UnknownOffer, ArchivedOffer):
            return None
        return HistoryEntry("offer", offer.created_at, offer=offer)


def _placeholders(raw: bytes) -> bytes:
    return raw.replace(b'"trade_id":%d' % _TRADE_SENTINEL, b'"trade_id":@@TRADE@@')


def _body_text(document: dict[str, Any]) -> str:
    return _placeholders(orjson.dumps(document)).decode()
