"""What the Redis store's parts share: the client, the key prefix, and the one place that
turns redis-py's errors into StoreUnavailable. Each part (outbox, retention, offers, history,
tokens, economy) reaches Redis through `self.redis`, a RedisKeyspace the store builds once,
and never through another part's or the store's private methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from bazaar.domain.errors import StoreUnavailable
from bazaar.domain.model import PlayerState


class RedisKeyspace:
    """One store's Redis: `key(...)` names a key under the prefix, `call(what, action)` runs
    a command and maps Redis failures to StoreUnavailable, `script(name, source)`
    registers a Lua script once."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.outbox = f"{prefix}outbox"  # the stream every write appends its event to
        self._scripts: dict[str, Any] = {}

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    def call(self, what: str, action: Callable[[], Any]) -> Any:
        # Any: redis-py types replies as bytes | str | None whatever the client's decoding.
        try:
            return action()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(f"redis unreachable during {what}: {exc}") from exc
        except redis.RedisError as exc:  # OOM, READONLY replica, LOADING, ...
            raise StoreUnavailable(f"redis refused {what}: {exc}") from exc

    def script(self, name: str, source: str | Callable[[], str]) -> Any:
        """The script `name`, registered on first use from `source` (its text, or what
        builds it); redis-py reloads it when the server has flushed its script cache."""
        registered = self._scripts.get(name)
        if registered is None:
            text = source if isinstance(source, str) else source()
            registered = self._scripts[name] = self.client.register_script(text)
        return registered


def player_state(player_id: int, raw: dict[bytes, bytes]) -> PlayerState:
    items: dict[int, int] = {}
    held: dict[int, int] = {}
    fields: dict[str, str] = {}
    for field, value in raw.items():
        name = field.decode()
        if name.startswith("item:"):
            items[int(name[5:])] = int(value)
        elif name.startswith("held:"):
            if int(value):
                held[int(name[5:])] = int(value)
        else:
            fields[name] = value.decode()
    return PlayerState(
        player_id=player_id,
        username=fields["username"],
        player_class=fields["player_class"],
        gold=int(fields["gold"]),
        items=items,
        capacity=int(fields["capacity"]),
        version=int(fields["version"]),
        created_at=fields["created_at"],
        held_gold=int(fields.get("held_gold", 0)),
        held_items=held,
    )
