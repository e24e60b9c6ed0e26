"""Grants and consumptions for the Redis store (a part of RedisStore).

Decided in Python with the domain's own rules (`grants.apply_adjustment`) on the state just
read, then written by ONE Lua script (store/lua/adjust.lua) that first checks the player has
not moved: its `version` (its goods), and for a consumption its `hv` too (escrow grew: less
is free). If it moved, nothing is written and the step is recomputed. The adjustment id
(one sequence, `{bazaar}:seq:adjustment`) and the event instant are the script's own.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import TYPE_CHECKING

import orjson

from bazaar.codec import encode_event
from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import StoreUnavailable, UnknownPlayer
from bazaar.domain.grants import Adjusted, Adjustment, AdjustmentKind, apply_adjustment
from bazaar.domain.grants import adjustment_event as _event
from bazaar.store.redis_keyspace import RedisKeyspace, player_state
from bazaar.store.redis_scripts import adjust_script
from bazaar.store.trading import Idempotency

MAX_ATTEMPTS = 64
_ID_SENTINEL = 4_503_599_627_370_493  # replaced by @@ADJ@@ before the script runs


def _template(raw: bytes, kind: AdjustmentKind) -> str:
    field = b"grant_id" if kind is AdjustmentKind.GRANT else b"consumption_id"
    return raw.replace(b'"%s":%d' % (field, _ID_SENTINEL), b'"%s":@@ADJ@@' % field).decode()


class RedisEconomy:
    """The economy half of RedisStore; reaches Redis through the store's RedisKeyspace."""

    catalog: Catalog
    idempotency_ttl: int

    if TYPE_CHECKING:  # provided by RedisStore
        redis: RedisKeyspace

    def adjust(self, adjustment: Adjustment, idempotency: Idempotency | None = None) -> Adjusted:
        adjust = self.redis.script("adjust", partial(adjust_script, self.catalog))
        idem_key = self.redis.key("idem", idempotency.key if idempotency else "-")
        fingerprint = idempotency.fingerprint if idempotency else ""
        keys = [
            self.redis.key("clock"),
            self.redis.outbox,
            self.redis.key("seq", "outbox"),
            self.redis.key("seq", "adjustment"),
            idem_key,
        ]
        player_key = self.redis.key("player", adjustment.player_id)
        for _ in range(MAX_ATTEMPTS):
            if idempotency is not None:  # a retry answers the first result, whatever now
                seen = self.redis.call(
                    "adjust", lambda: self.redis.client.hmget(idem_key, "fingerprint", "result")
                )
                if seen[0] is not None:
                    if seen[0].decode() != fingerprint:
                        raise idempotency.reused()
                    return Adjusted.from_document(orjson.loads(seen[1]))
            raw = self.redis.call("adjust", lambda: self.redis.client.hgetall(player_key))
            if not raw:
                raise UnknownPlayer(adjustment.player_id)
            state = player_state(adjustment.player_id, raw)
            after = apply_adjustment(adjustment, state)  # GoodsUnavailable: nothing written
            adjusted = Adjusted(_ID_SENTINEL, "@@AT1@@", adjustment, after)
            event = _event(self.catalog, adjusted, event_id=str(uuid.uuid4()))
            consuming = adjustment.kind is AdjustmentKind.CONSUMPTION
            sets = ["gold", str(after.gold), "version", str(after.version)]
            dels = []
            for line in adjustment.items:
                quantity = after.items.get(line.item_id)
                if quantity:
                    sets += [f"item:{line.item_id}", str(quantity)]
                else:
                    dels.append(f"item:{line.item_id}")
            args: list[str | int] = [
                self.redis.prefix,
                adjustment.player_id,
                str(state.version),
                raw.get(b"hv", b"0").decode() if consuming else "",
                fingerprint,
                self.idempotency_ttl,
                event.event_id,
                event.event_type,
                _template(encode_event(event), adjustment.kind),
                _template(orjson.dumps(adjusted.to_document()), adjustment.kind),
                len(sets) // 2,
                *sets,
                len(dels),
                *dels,
            ]
            reply = self.redis.call("adjust", partial(adjust, keys, args))
            if reply[0] in (b"ok", b"dup"):
                return Adjusted.from_document(orjson.loads(reply[1]))
            if reply[0] == b"reused" and idempotency is not None:
                raise idempotency.reused()
        raise StoreUnavailable(f"player {adjustment.player_id} kept changing; try again")
