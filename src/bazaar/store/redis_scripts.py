"""The Lua scripts that make each Redis write one atomic step, loaded from `store/lua/`.

Redis runs a script to completion with no other command in between, so validating a trade,
updating both player hashes, appending the outbox entry and remembering the idempotency key
happen together or not at all. The trade rules are re-expressed here from
`bazaar.domain.trading.execute_trade`; `tests/integration/test_redis_store.py` runs both on
thousands of random requests and demands identical outcomes, details and event bytes.

Why the scripts are careful:
- every read, check and JSON encoding happens BEFORE the first write: Redis does not roll
  back a script that fails half way, so a failure must come while nothing is written yet;
  XADD (the only write that can be refused, for a stale id) is the first write.
- ids are kept as decimal strings (player and item ids may be as large as 2**63 - 1, which a
  Lua double cannot hold); quantities and gold are below 2**53 (checked by the adapter).
- the JSON is assembled by hand in orjson's exact layout (Redis' cjson turns an empty list
  into `{}` and escapes '/'), so an event from this store is byte for byte what the domain
  builds for the same trade.
- the catalog's item values are compiled into the script source (one SHA per catalog), so a
  trade never reads catalog data at run time and two catalogs can never mix.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from bazaar.domain.catalog import Catalog

# Where common.lua takes the catalog: Lua block comments, so the file stays valid Lua.
_VALUES_MARK = "--[[catalog values]]"
_IDS_MARK = "--[[catalog ids]]"


@cache
def lua_source(name: str) -> str:
    """The text of `store/lua/<name>.lua`, shipped as package data."""
    return resources.files("bazaar.store").joinpath("lua", f"{name}.lua").read_text("utf-8")


def common_prelude(catalog: Catalog) -> str:
    """The shared helpers with this catalog's values and id order compiled in."""
    values = ", ".join(f'["{i.item_id}"] = {i.value}' for i in catalog.items.values())
    by_rank = ", ".join(f"'{item_id}'" for item_id in sorted(catalog.items))
    return lua_source("common").replace(_VALUES_MARK, values).replace(_IDS_MARK, by_rank)


def trade_script(catalog: Catalog) -> str:
    return common_prelude(catalog) + lua_source("trade")


def create_player_script(catalog: Catalog) -> str:
    return common_prelude(catalog) + lua_source("create_player")


def offer_step_script(catalog: Catalog) -> str:
    return common_prelude(catalog) + lua_source("offer_step")


def adjust_script(catalog: Catalog) -> str:
    return common_prelude(catalog) + lua_source("adjust")
