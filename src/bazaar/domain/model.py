"""Player state and trade requests, as plain frozen values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bazaar.domain.catalog import Catalog, PlayerClass
from bazaar.domain.errors import GoodsUnavailable, InvalidRequest

USERNAME_MAX = 32
# Letters (any script), digits, '_', '-', '.', and inner spaces: no control or format
# characters, so a username is always safe to print in a terminal, a log line or HTML.
_USERNAME = re.compile(r"[^\W_]|[_\-. ]")
_NOTHING: Mapping[int, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PlayerState:
    player_id: int
    username: str
    player_class: str
    gold: int
    items: Mapping[int, int]  # item_id -> quantity (> 0); treated as immutable
    capacity: int
    version: int
    created_at: str
    # Escrow: what open offers of this player hold. Held goods stay in `gold` / `items`
    # (they are the player's, and count against capacity) but no trade, offer or
    # consumption may use them. Not part of `to_document`: a trade's recorded states keep
    # their shape; GET /players shows them beside the totals.
    held_gold: int = 0
    held_items: Mapping[int, int] = field(default_factory=lambda: _NOTHING)

    @property
    def held(self) -> int:
        """Items held in total (against capacity); escrow is `held_items`."""
        return sum(self.items.values())

    def free_items(self, item_id: int) -> int:
        """Units of `item_id` no open offer holds."""
        return self.items.get(item_id, 0) - self.held_items.get(item_id, 0)

    @property
    def free_gold(self) -> int:
        return self.gold - self.held_gold

    def escrow_document(self) -> dict[str, Any]:
        return goods_document(self.held_gold, self.held_items)

    def check_free(self, items: Iterable[ItemLine], gold: int, verb: str) -> None:
        """GoodsUnavailable unless the goods no open offer holds cover `items` and `gold`
        (items first, as a trade checks them); `verb` says what the caller does with them."""
        for line in items:
            free = self.free_items(line.item_id)
            if free < line.quantity:
                raise GoodsUnavailable(
                    "insufficient_items",
                    f"player {self.player_id} has {free} of item {line.item_id} free"
                    f" (not held by open offers), {verb} {line.quantity}",
                )
        if self.free_gold < gold:
            raise GoodsUnavailable(
                "insufficient_gold",
                f"player {self.player_id} has {self.free_gold} gold free"
                f" (not held by open offers), {verb} {gold}",
            )

    def to_document(self) -> dict[str, Any]:
        return {
            "player_id": self.player_id,
            "username": self.username,
            "player_class": self.player_class,
            "gold": self.gold,
            "items": {str(k): v for k, v in sorted(self.items.items())},
            "capacity": self.capacity,
            "version": self.version,
            "created_at": self.created_at,
        }

    @staticmethod
    def from_document(doc: Mapping[str, Any]) -> PlayerState:
        return PlayerState(
            player_id=int(doc["player_id"]),
            username=str(doc["username"]),
            player_class=str(doc["player_class"]),
            gold=int(doc["gold"]),
            items={int(k): int(v) for k, v in doc["items"].items()},
            capacity=int(doc["capacity"]),
            version=int(doc["version"]),
            created_at=str(doc["created_at"]),
        )


def goods_document(gold: int, items: Mapping[int, int]) -> dict[str, Any]:
    """`{"gold", "items": [{"item_id", "quantity"}]}` in item order: escrow and its events."""
    lines = [{"item_id": i, "quantity": q} for i, q in sorted(items.items()) if q]
    return {"gold": gold, "items": lines}


@dataclass(frozen=True, slots=True)
class ItemLine:
    item_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class TradeSide:
    player_id: int
    items: tuple[ItemLine, ...] = ()
    gold: int = 0

    @property
    def gives_nothing(self) -> bool:
        return not self.items and self.gold == 0

    @property
    def lines(self) -> tuple[tuple[int, int], ...]:
        """The item lines as (item_id, quantity) pairs, the form the trade rules read."""
        return tuple([(line.item_id, line.quantity) for line in self.items]) if self.items else ()

    def goods(self) -> dict[str, Any]:
        """What this side gives as a goods document (the escrow an offer's creator holds)."""
        merged: dict[int, int] = {}
        for line in self.items:
            merged[line.item_id] = merged.get(line.item_id, 0) + line.quantity
        return goods_document(self.gold, merged)

    def to_document(self) -> dict[str, Any]:
        return {
            "player_id": self.player_id,
            "items": [{"item_id": i.item_id, "quantity": i.quantity} for i in self.items],
            "gold": self.gold,
        }

    @staticmethod
    def from_document(doc: Mapping[str, Any]) -> TradeSide:
        return TradeSide(
            player_id=int(doc["player_id"]),
            items=tuple(ItemLine(int(i["item_id"]), int(i["quantity"])) for i in doc["items"]),
            gold=int(doc["gold"]),
        )


@dataclass(frozen=True, slots=True)
class TradeRequest:
    player_1: TradeSide
    player_2: TradeSide

    def to_document(self) -> dict[str, Any]:
        return {"player_1": self.player_1.to_document(), "player_2": self.player_2.to_document()}

    @staticmethod
    def from_document(doc: Mapping[str, Any]) -> TradeRequest:
        return TradeRequest(
            TradeSide.from_document(doc["player_1"]), TradeSide.from_document(doc["player_2"])
        )


@dataclass(frozen=True, slots=True)
class NewPlayer:
    """A request to create a player: the class is already chosen (drawn if asked for random)."""

    player_class: str
    username: str | None = None


def check_username(username: str) -> str:
    if not 1 <= len(username) <= USERNAME_MAX:
        raise InvalidRequest(f"username must be 1 to {USERNAME_MAX} characters", field="username")
    if username != username.strip() or not all(_USERNAME.fullmatch(ch) for ch in username):
        raise InvalidRequest(
            "username may hold letters, digits, '_', '-', '.' and inner spaces only",
            field="username",
        )
    return username


def default_username(player_class: str, player_id: int) -> str:
    return f"{player_class}-{player_id}"


def starting_state(
    pc: PlayerClass, player_id: int, username: str | None, created_at: str
) -> PlayerState:
    """A new player of class `pc`: the only place where supply enters the economy."""
    return PlayerState(
        player_id=player_id,
        username=username if username is not None else default_username(pc.name, player_id),
        player_class=pc.name,
        gold=pc.gold,
        items=dict(pc.items),
        capacity=pc.capacity,
        version=1,
        created_at=created_at,
    )


def resolve_class(catalog: Catalog, name: str) -> PlayerClass:
    pc = catalog.player_class(name)
    if pc is None:
        known = ", ".join(sorted(catalog.classes))
        raise InvalidRequest(
            f"unknown player_class {name!r}; known: {known} or random",
            field="player_class",
            reason="unknown_player_class",
        )
    return pc
