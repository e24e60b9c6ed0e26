"""The trade rules: validate a two-sided trade and compute both players' new states.

`execute_trade` is the single source of truth for what a trade does. Stores call it inside
their atomic step with the states they locked, so the rules never run on stale data. Its
two halves, `broken_rule` (may the trade go ahead?) and `exchange` (how a holding moves),
are also what the simulator plans with, over its model of every player (simulate/
holdings.py): the rules exist once in Python (and once in the Redis store's Lua, which a
parity test holds to these).
Rejections are outcomes, not exceptions: a rejected trade is recorded and analysed too.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bazaar.domain.catalog import Catalog
from bazaar.domain.model import ItemLine, PlayerState, TradeRequest, TradeSide


class RejectionReason(StrEnum):
    SELF_TRADE = "self_trade"
    EMPTY_TRADE = "empty_trade"
    UNKNOWN_ITEM = "unknown_item"
    INSUFFICIENT_ITEMS = "insufficient_items"
    INSUFFICIENT_GOLD = "insufficient_gold"
    CAPACITY_EXCEEDED = "capacity_exceeded"


@dataclass(frozen=True, slots=True)
class Accepted:
    trade_id: int
    executed_at: str
    request: TradeRequest  # with item lines merged
    player_1: PlayerState  # state after the trade
    player_2: PlayerState
    # The trade fee each side paid on top of the gold it gave (serve --trade-fee-bps):
    # burned, a sink. Zero unless a fee is charged, and then absent from documents.
    fee_1: int = 0
    fee_2: int = 0

    status = "accepted"

    def to_document(self) -> dict[str, Any]:
        doc = {
            "trade_id": self.trade_id,
            "status": self.status,
            "executed_at": self.executed_at,
            "request": self.request.to_document(),
            "player_1": self.player_1.to_document(),
            "player_2": self.player_2.to_document(),
        }
        if self.fee_1 or self.fee_2:
            doc["fees"] = [self.fee_1, self.fee_2]
        return doc


@dataclass(frozen=True, slots=True)
class Rejected:
    trade_id: int
    executed_at: str
    request: TradeRequest
    reason: RejectionReason
    detail: str

    status = "rejected"

    def to_document(self) -> dict[str, Any]:
        return {
            "trade_id": self.trade_id,
            "status": self.status,
            "executed_at": self.executed_at,
            "request": self.request.to_document(),
            "reason": self.reason.value,
            "detail": self.detail,
        }


TradeOutcome = Accepted | Rejected


def outcome_from_document(doc: Mapping[str, Any]) -> TradeOutcome:
    request = TradeRequest.from_document(doc["request"])
    if doc["status"] == "accepted":
        fee_1, fee_2 = doc.get("fees", (0, 0))
        return Accepted(
            trade_id=int(doc["trade_id"]),
            executed_at=str(doc["executed_at"]),
            request=request,
            player_1=PlayerState.from_document(doc["player_1"]),
            player_2=PlayerState.from_document(doc["player_2"]),
            fee_1=int(fee_1),
            fee_2=int(fee_2),
        )
    return Rejected(
        trade_id=int(doc["trade_id"]),
        executed_at=str(doc["executed_at"]),
        request=request,
        reason=RejectionReason(doc["reason"]),
        detail=str(doc["detail"]),
    )


def merge_lines(lines: Iterable[ItemLine]) -> tuple[ItemLine, ...]:
    """Lines naming the same item are summed into one, in first-seen order."""
    merged: dict[int, int] = {}
    for line in lines:
        merged[line.item_id] = merged.get(line.item_id, 0) + line.quantity
    return tuple(ItemLine(item_id, qty) for item_id, qty in merged.items())


def _merged(side: TradeSide) -> TradeSide:
    if len(side.items) < 2 or len({line.item_id for line in side.items}) == len(side.items):
        return side  # nothing to merge: the common case, kept allocation-free
    return TradeSide(side.player_id, merge_lines(side.items), side.gold)


def normalise(request: TradeRequest) -> TradeRequest:
    one, two = _merged(request.player_1), _merged(request.player_2)
    if one is request.player_1 and two is request.player_2:
        return request
    return TradeRequest(one, two)


Lines = Sequence[tuple[int, int]]  # (item_id, quantity) of one side, one line per item
# What open offers of a player hold (gold, item_id -> quantity): not free to any trade but
# the accept of the offer holding it (`escrowed`). The simulator's model holds nothing.
Escrow = tuple[int, Mapping[int, int]]
NO_ESCROW: Escrow = (0, {})


def fee_for(gold: int, fee_bps: int) -> int:
    """The trade fee on `gold` given, in basis points, rounded down (small gifts pay none)."""
    return gold * fee_bps // 10_000 if fee_bps else 0


class Holder(Protocol):
    """What the rules read of a player: its stored state (`PlayerState`), or a model of it
    (the simulator's `Holding`, which plans trades with these same rules)."""

    @property
    def gold(self) -> int: ...
    @property
    def items(self) -> Mapping[int, int]: ...
    @property
    def held(self) -> int: ...
    @property
    def capacity(self) -> int: ...


def broken_rule(
    known: Container[int],
    ids: tuple[int, int],
    lines_1: Lines,
    gold_1: int,
    lines_2: Lines,
    gold_2: int,
    holder_1: Holder,
    holder_2: Holder,
    *,
    fees: tuple[int, int] = (0, 0),
    escrow_1: Escrow = NO_ESCROW,
    escrow_2: Escrow = NO_ESCROW,
    escrowed: bool = False,
) -> tuple[RejectionReason, str] | None:
    """The first rule the trade breaks, with its detail, or None if it may go ahead.

    Checks run in a fixed order so each rejection carries exactly one reason:
    self_trade, empty_trade, unknown_item, insufficient_items, insufficient_gold,
    capacity_exceeded. `known` holds the catalog's item ids; `ids` the two players'.
    Goods in a player's escrow are not available, except to the offer holding them:
    `escrowed` says player_1's side is an accepted offer's held gives. A side giving gold
    pays its fee on top.
    """
    one, two = ids
    if one == two:
        return RejectionReason.SELF_TRADE, f"player {one} cannot trade with itself"
    if not lines_1 and not lines_2 and gold_1 == 0 and gold_2 == 0:
        return RejectionReason.EMPTY_TRADE, "neither side gives anything"
    broken = _side_broken(
        known, "player_1", one, lines_1, gold_1, holder_1, fees[0], escrow_1, escrowed
    )
    if broken is None:
        broken = _side_broken(
            known, "player_2", two, lines_2, gold_2, holder_2, fees[1], escrow_2, False
        )
    if broken is not None:
        return broken
    gain = 0  # items player_1 ends up holding more; player_2 as many fewer
    for _, quantity in lines_2:
        gain += quantity
    for _, quantity in lines_1:
        gain -= quantity
    # Only a receiver that grows can break capacity; one already over it (after a catalog
    # change) may still trade down.
    label, player_id, holder = (
        ("player_1", one, holder_1) if gain > 0 else ("player_2", two, holder_2)
    )
    if gain and holder.held + abs(gain) > holder.capacity:
        return (
            RejectionReason.CAPACITY_EXCEEDED,
            f"{label}: player {player_id} would hold {holder.held + abs(gain)} items,"
            f" capacity {holder.capacity}",
        )
    return None


def _side_broken(
    known: Container[int],
    label: str,
    player_id: int,
    lines: Lines,
    gold: int,
    giver: Holder,
    fee: int,
    escrow: Escrow,
    escrowed: bool,
) -> tuple[RejectionReason, str] | None:
    for item_id, _ in lines:
        if item_id not in known:
            return RejectionReason.UNKNOWN_ITEM, f"{label}: item_id {item_id} is not in the catalog"
    held_gold, held_items = escrow
    have_items = giver.items
    for item_id, quantity in lines:
        have = have_items.get(item_id, 0)
        # (no escrow, the common case: one lookup, as before escrow existed)
        held = held_items.get(item_id, 0) - quantity * escrowed if held_items else 0
        if have - held < quantity:
            return (
                RejectionReason.INSUFFICIENT_ITEMS,
                f"{label}: player {player_id} holds {have} of item {item_id}"
                + (f" ({held} held by open offers)" if held else "")
                + f", gives {quantity}",
            )
    held = held_gold - gold * escrowed
    if giver.gold - held < gold + fee:
        return (
            RejectionReason.INSUFFICIENT_GOLD,
            f"{label}: player {player_id} holds {giver.gold} gold"
            + (f" ({held} held by open offers)" if held else "")
            + f", gives {gold}"
            + (f" + fee {fee}" if fee else ""),
        )
    return None


def exchange(items: MutableMapping[int, int], gives: Lines, gets: Lines) -> None:
    """Move a holding's items by a trade: `gives` leave it, `gets` join it; an item whose
    count reaches 0 leaves the holding. A count may go below 0 only in a model that applies
    a trade it did not see coming (the simulator's checker), never in a store."""
    for item_id, quantity in gives:
        count = items.get(item_id, 0) - quantity
        if count:
            items[item_id] = count
        else:
            items.pop(item_id, None)
    for item_id, quantity in gets:
        count = items.get(item_id, 0) + quantity
        if count:
            items[item_id] = count
        else:  # back to 0 from below, in a model only
            items.pop(item_id, None)


def _after(
    state: PlayerState, gold_change: int, gives: Lines, gets: Lines, release: TradeSide | None
) -> PlayerState:
    items = dict(state.items)
    exchange(items, gives, gets)
    held_gold, held_items = state.held_gold, state.held_items
    if release is not None:  # the goods leave escrow as they leave the player
        # (never below none: a store racing a stale read recomputes before it writes)
        held_gold = max(0, held_gold - release.gold)
        held_items = dict(held_items)
        for line in release.items:
            left = held_items.get(line.item_id, 0) - line.quantity
            if left > 0:
                held_items[line.item_id] = left
            else:
                held_items.pop(line.item_id, None)
    return PlayerState(
        state.player_id,
        state.username,
        state.player_class,
        state.gold + gold_change,
        items,
        state.capacity,
        state.version + 1,
        state.created_at,
        held_gold,
        held_items,
    )


def execute_trade(
    catalog: Catalog,
    request: TradeRequest,
    player_1: PlayerState,
    player_2: PlayerState,
    *,
    trade_id: int,
    executed_at: str,
    fee_bps: int = 0,
    escrowed: bool = False,
) -> TradeOutcome:
    """Apply `request` to the two current states, or say why not (`broken_rule`).
    `escrowed`: player_1's side is an accepted offer's held gives (they leave escrow with
    the trade); a side giving gold pays `fee_bps` of it on top (burned)."""
    request = normalise(request)
    one, two = request.player_1, request.player_2
    lines_1, lines_2 = one.lines, two.lines
    fee_1, fee_2 = fee_for(one.gold, fee_bps), fee_for(two.gold, fee_bps)
    broken = broken_rule(
        catalog.items, (one.player_id, two.player_id),
        lines_1, one.gold, lines_2, two.gold, player_1, player_2,
        fees=(fee_1, fee_2),
        escrow_1=(player_1.held_gold, player_1.held_items),
        escrow_2=(player_2.held_gold, player_2.held_items),
        escrowed=escrowed,
    )  # fmt: skip
    if broken is not None:
        return Rejected(trade_id, executed_at, request, *broken)
    release = one if escrowed else None
    new_1 = _after(player_1, two.gold - one.gold - fee_1, lines_1, lines_2, release)
    new_2 = _after(player_2, one.gold - two.gold - fee_2, lines_2, lines_1, None)
    return Accepted(trade_id, executed_at, request, new_1, new_2, fee_1, fee_2)
