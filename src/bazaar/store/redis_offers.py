"""Offers for the Redis store (a part of RedisStore); player history: redis_history.py.

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

Escrow: a player's holds are fields of their hash (held_gold, held:<item>), changed by the
step as increments. Placing a hold compares-and-sets the creator's `version` (their
goods) and `hv` (bumped whenever a hold grows), so two offers racing for one sword cannot
both hold it; an accept compares both players' `version` and `hv`; a release only
gives goods back, so it needs no compare. The trade script reads the holds in its own
atomic step and refuses held goods.

Keys (besides the store's):

    {bazaar}:seq:offer          string last offer id
    {bazaar}:offer:<id>         hash   status, doc (Offer.to_document(), JSON)
    {bazaar}:offers:<player>    zset   offer ids made by or to the player (score: the id)
    {bazaar}:offers:open        zset   open offer ids, score: expires_at (microseconds),
                                       for the expiry sweeper
    {bazaar}:history:<player>   zset   "o:<offer id>" / "t:<trade id>", score: the instant
                                       (microseconds since the epoch; unique per store)
    {bazaar}:history:indexed    string last trade id copied into the history sets

Player tokens: store/redis_tokens.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from bazaar.codec import encode_event
from bazaar.domain.catalog import Catalog
from bazaar.domain.clock import format_instant, instant_micros
from bazaar.domain.errors import (
    ArchivedOffer,
    OfferNotOpen,
    StoreUnavailable,
    UnknownOffer,
    UnknownPlayer,
)
from bazaar.domain.events import Event, trade_event
from bazaar.domain.model import PlayerState, TradeRequest, TradeSide
from bazaar.domain.offers import (
    Actor,
    Offer,
    OfferAction,
    OfferStatus,
    check_actor,
    check_escrow,
    check_open,
    countered,
    expired,
    offer_event,
    resolved,
    settled,
)
from bazaar.domain.trading import Accepted, execute_trade, normalise, outcome_from_document
from bazaar.store.base import CounterResult, OfferResult
from bazaar.store.redis_keyspace import RedisKeyspace, player_state
from bazaar.store.redis_scripts import offer_step_script
from bazaar.store.retained import Archived

# Recomputations before giving up on an offer whose players keep trading meanwhile.
MAX_ATTEMPTS = 64
_TRADE_SENTINEL = 4_503_599_627_370_497  # replaced by @@TRADE@@ before the script runs


def _body(event: Event) -> bytes:
    """The event's bytes from the codec, with the placeholders the script fills in."""
    return _placeholders(encode_event(event))


class _Step:
    """The argument list of one offer step, built in the script's order."""

    def __init__(self) -> None:
        self.cas: list[tuple[int, str, str]] = []
        self.writes: list[tuple[int, list[str], list[str]]] = []
        self.events: list[Event] = []
        self.index: list[tuple[str, str, str]] = []
        self.increments: list[tuple[int, str, int]] = []
        self.opened: Offer | None = None  # a new offer this step creates

    def compare(self, player: _Seen) -> None:
        """Write only if the player's goods and escrow are as read."""
        self.cas.append((player.state.player_id, "version", str(player.state.version)))
        self.cas.append((player.state.player_id, "hv", str(player.hv)))

    def hold(self, side: TradeSide, sign: int) -> None:
        """Put `side`'s gives in escrow (1) or take them out (-1)."""
        pid = side.player_id
        if side.gold:
            self.increments.append((pid, "held_gold", sign * side.gold))
        for line in side.items:
            self.increments.append((pid, f"held:{line.item_id}", sign * line.quantity))
        if sign > 0:
            self.increments.append((pid, "hv", 1))

    def args(self, head: list[str | int]) -> list[str | int | bytes]:
        out: list[str | int | bytes] = [*head, len(self.cas)]
        for pid, field, expected in self.cas:
            out += [pid, field, expected]
        out.append(len(self.writes))
        for pid, sets, dels in self.writes:
            out += [pid, len(sets) // 2, *sets, len(dels), *dels]
        out.append(len(self.events))
        for event in self.events:
            out += [event.event_id, event.event_type, event.key, _body(event)]
        out.append(len(self.index))
        for suffix, member, score in self.index:
            out += [suffix, member, score]
        out.append(len(self.increments))
        for pid, field, delta in self.increments:
            out += [pid, field, delta]
        return out

    def new_offer(self) -> Offer:
        assert self.opened is not None
        return self.opened


class _Seen:
    """A player's state as read, with its hold version `hv`."""

    __slots__ = ("hv", "state")

    def __init__(self, state: PlayerState, hv: int) -> None:
        self.state = state
        self.hv = hv


def _player_writes(old: PlayerState, new: PlayerState) -> tuple[int, list[str], list[str]]:
    sets = ["gold", str(new.gold), "version", str(new.version)]
    for item_id, quantity in new.items.items():
        if old.items.get(item_id) != quantity:
            sets += [f"item:{item_id}", str(quantity)]
    gone = [f"item:{i}" for i in old.items if i not in new.items]
    return new.player_id, sets, gone


class RedisOffers:
    """The offer half of RedisStore; reaches Redis through the store's RedisKeyspace."""

    catalog: Catalog
    trade_fee_bps: int

    if TYPE_CHECKING:  # provided by RedisStore
        redis: RedisKeyspace

        def get_player(self, player_id: int) -> PlayerState: ...
        def archived(self) -> Archived: ...

    def _run_step(
        self, offer_id: int, head: Sequence[str | int], step: _Step, also: Offer | None = None
    ) -> list[bytes]:
        """Run one offer step on `offer_id`; `also`: a second, new offer it creates (a
        counter-offer), returned as the reply's fourth element."""
        offer = self.redis.script("offer_step", partial(offer_step_script, self.catalog))
        keys = [
            self.redis.key("clock"),
            self.redis.outbox,
            self.redis.key("seq", "outbox"),
            self.redis.key("seq", "trade"),
            self.redis.key("trades"),
        ]
        args = step.args([self.redis.prefix, offer_id, *head])
        if also is None:
            args.append(0)
        else:
            args += [1, also.offer_id, also.status.value, _body_text(also.to_document())]
        reply: list[bytes] = self.redis.call("offer step", lambda: offer(keys, args))
        return reply

    # -- offers --------------------------------------------------------------------------

    def _seen(self, player_id: int) -> _Seen:
        key = self.redis.key("player", player_id)
        raw = self.redis.call("player", lambda: self.redis.client.hgetall(key))
        if not raw:
            raise UnknownPlayer(player_id)
        return _Seen(player_state(player_id, raw), int(raw.get(b"hv", 0)))

    def _next_offer_id(self) -> int:
        counter = self.redis.key("seq", "offer")
        return int(self.redis.call("offer id", lambda: self.redis.client.incr(counter)))

    def create_offer(self, request: TradeRequest, ttl_seconds: int) -> Offer:
        request = normalise(request)
        self.get_player(request.player_2.player_id)  # UnknownPlayer (players are never deleted)
        offer_id: int | None = None
        for _ in range(MAX_ATTEMPTS):
            step = _Step()
            creator = self._seen(request.player_1.player_id)
            check_escrow(creator.state, request.player_1)  # GoodsUnavailable: nothing written
            if offer_id is None:
                offer_id = self._next_offer_id()
            self._open_step(step, creator, offer_id, request, None)
            head: list[str | int] = [
                "", "", ttl_seconds * 1_000_000, "0", OfferStatus.OPEN.value,
                _body_text(step.new_offer().to_document()), "",
            ]  # fmt: skip
            reply = self._run_step(offer_id, head, step)
            if reply[0] == b"ok":
                return Offer.from_document(orjson.loads(reply[1]))
        raise StoreUnavailable("the offer's creator kept changing; try again")

    def _open_step(
        self, step: _Step, creator: _Seen, offer_id: int, request: TradeRequest, of: int | None
    ) -> None:
        """Add a new open offer (its escrow placed, its event numbered `@AT<n>`) to `step`."""
        n = len(step.events) + 1
        at = f"@@AT{n}@@"
        template = Offer(
            offer_id, request, OfferStatus.OPEN, at, "@@EXP@@", held=True, counter_of=of
        )
        step.compare(creator)
        step.hold(request.player_1, 1)
        step.events.append(offer_event(self.catalog, template, event_id=str(uuid.uuid4())))
        for pid in (template.from_player_id, template.to_player_id):
            step.index.append((f"offers:{pid}", str(offer_id), str(offer_id)))
            step.index.append((f"history:{pid}", f"o:{offer_id}", f"@{n}"))
        step.index.append(("offers:open", str(offer_id), "@EXP"))
        step.opened = template

    def get_offer(self, offer_id: int) -> Offer:
        raw = self.redis.call(
            "get_offer", lambda: self.redis.client.hget(self.redis.key("offer", offer_id), "doc")
        )
        if raw is None:
            if 0 < offer_id <= self.archived().offers:
                raise ArchivedOffer(offer_id)
            raise UnknownOffer(offer_id)
        return Offer.from_document(orjson.loads(raw))

    def list_offers(
        self, player_id: int, status: OfferStatus | None = None, limit: int = 100
    ) -> list[Offer]:
        self.get_player(player_id)
        ids = self.redis.call(
            "list_offers",
            lambda: self.redis.client.zrevrange(self.redis.key("offers", player_id), 0, -1),
        )

        def docs() -> list[Any]:
            pipe = self.redis.client.pipeline(transaction=False)
            for oid in ids:
                pipe.hget(self.redis.key("offer", oid.decode()), "doc")
            return pipe.execute()

        now = format_instant(datetime.now(UTC))
        raws = self.redis.call("list_offers", docs)
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
                seen_1 = self._seen(offer.from_player_id)
                seen_2 = self._seen(offer.to_player_id)
                step.compare(seen_1)
                step.compare(seen_2)
                p1, p2 = seen_1.state, seen_2.state
                outcome = execute_trade(
                    self.catalog, offer.request, p1, p2,
                    trade_id=_TRADE_SENTINEL, executed_at="@@AT1@@",
                    fee_bps=self.trade_fee_bps, escrowed=offer.holds_goods,
                )  # fmt: skip
                step.events.append(trade_event(self.catalog, outcome, event_id=str(uuid.uuid4())))
                if isinstance(outcome, Accepted):
                    step.writes.append(_player_writes(p1, outcome.player_1))
                    step.writes.append(_player_writes(p2, outcome.player_2))
                self._release(step, offer)  # moved with the trade, or back to the creator
                after = settled(offer, actor, outcome, "@@AT2@@")
                trade_doc = _body_text(outcome.to_document())
                with_trade = "1"
            else:
                self._release(step, offer)
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

    def _release(self, step: _Step, offer: Offer) -> None:
        """The offer ends: its holds leave escrow, it leaves the sweeper's index."""
        if offer.holds_goods:
            step.hold(offer.request.player_1, -1)
        step.index.append(("offers:open", str(offer.offer_id), "-"))

    def counter_offer(
        self, offer_id: int, request: TradeRequest, ttl_seconds: int, actor: Actor
    ) -> CounterResult:
        request = normalise(request)
        new_id: int | None = None
        for _ in range(MAX_ATTEMPTS):
            offer = self.get_offer(offer_id)
            check_actor(offer, OfferAction.COUNTER, actor)
            check_open(offer)
            if offer.is_due(format_instant(datetime.now(UTC))):
                if self._expire(offer)[0] == b"ok":
                    raise OfferNotOpen(offer_id, OfferStatus.EXPIRED.value)
                continue
            self.get_player(request.player_2.player_id)
            creator = self._seen(request.player_1.player_id)
            check_escrow(creator.state, request.player_1)
            if new_id is None:
                new_id = self._next_offer_id()
            step = _Step()
            self._release(step, offer)
            original = countered(offer, actor, "@@AT1@@", new_id)
            step.events.append(offer_event(self.catalog, original, event_id=str(uuid.uuid4())))
            self._open_step(step, creator, new_id, request, offer_id)
            head: list[str | int] = [
                OfferStatus.OPEN.value, instant_micros(offer.expires_at),
                ttl_seconds * 1_000_000, "0", original.status.value,
                _body_text(original.to_document()), "",
            ]  # fmt: skip
            reply = self._run_step(offer_id, head, step, step.new_offer())
            if reply[0] == b"ok":
                return CounterResult(
                    Offer.from_document(orjson.loads(reply[1])),
                    Offer.from_document(orjson.loads(reply[3])),
                )
            if reply[0] == b"expired" and self._expire(offer)[0] == b"ok":
                raise OfferNotOpen(offer_id, OfferStatus.EXPIRED.value)
        raise StoreUnavailable(f"offer {offer_id}: its players kept changing; try again")

    def expire_due_offers(self, limit: int = 500) -> int:
        key = self.redis.key("offers", "open")
        now = instant_micros(format_instant(datetime.now(UTC)))
        due = self.redis.call(
            "expire", lambda: self.redis.client.zrangebyscore(key, "-inf", now, start=0, num=limit)
        )
        done = 0
        for raw_id in due:
            try:
                offer = self.get_offer(int(raw_id))
            except (UnknownOffer, ArchivedOffer):
                self.redis.call("expire", partial(self.redis.client.zrem, key, raw_id))
                continue
            if offer.status is not OfferStatus.OPEN:  # ended meanwhile; its step unindexed it
                continue
            if self._expire(offer)[0] == b"ok":
                done += 1
        return done

    def _expire(self, offer: Offer) -> list[bytes]:
        after = expired(offer, "@@AT1@@")
        step = _Step()
        self._release(step, offer)
        step.events.append(offer_event(self.catalog, after, event_id=str(uuid.uuid4())))
        doc = _body_text(after.to_document())
        head: list[str | int] = [OfferStatus.OPEN.value, "", "", "0", after.status.value, doc, ""]
        return self._run_step(offer.offer_id, head, step)


def _placeholders(raw: bytes) -> bytes:
    return raw.replace(b'"trade_id":%d' % _TRADE_SENTINEL, b'"trade_id":@@TRADE@@')


def _body_text(document: dict[str, Any]) -> str:
    return _placeholders(orjson.dumps(document)).decode()
