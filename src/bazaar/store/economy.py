"""The economy port: faucets and sinks outside trades (grants, consumptions: domain/grants.py)
and the trade fee setting, what the API's grant and consumption routes need from a store.

Defaults refuse, so a store without them still serves trades; both adapters here implement
them.
"""

from __future__ import annotations

from bazaar.domain.grants import Adjusted, Adjustment
from bazaar.store.trading import Idempotency


class Economy:
    """Grants and consumptions, each with its event in one atomic step."""

    # The trade fee in basis points of the gold a side gives, paid on top by that side and
    # burned (serve --trade-fee-bps; bootstrap sets it). 0: no fee, and no `fee` fields.
    trade_fee_bps: int = 0

    def adjust(self, adjustment: Adjustment, idempotency: Idempotency | None = None) -> Adjusted:
        """Apply a checked grant or consumption (`grants.check_adjustment`) to the player's
        state at this instant, with its goods_granted / goods_consumed event. Raises
        UnknownPlayer, GoodsUnavailable (capacity, goods not free) with nothing written,
        IdempotencyKeyReused; a key seen before with the same body answers the first
        result again."""
        raise NotImplementedError(f"{type(self).__name__} does not support grants")
