"""Player tokens for the Redis store (a part of RedisStore).

Keys:

    {bazaar}:tokens                 hash   sha256(token) -> player id (what a request checks)
    {bazaar}:tokens:of:<player>     set    the player's token hashes (what a revoke deletes)
    {bazaar}:tokens:indexed         string "1" once every token in the hash is in its set

Every request looks its token up in the hash, so a revoke is seen by every worker on the
next request. Tokens issued before the per-player sets existed are indexed by one scan of
the hash, on the first revoke.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from bazaar.store.redis_keyspace import RedisKeyspace

if TYPE_CHECKING:
    from bazaar.domain.model import PlayerState

_SCAN_PAGE = 1000


class RedisTokens:
    if TYPE_CHECKING:  # provided by RedisStore
        redis: RedisKeyspace

        def get_player(self, player_id: int) -> PlayerState: ...

    def add_player_token(self, player_id: int, token_hash: str) -> None:
        self.get_player(player_id)

        def add() -> None:
            pipe = self.redis.client.pipeline(transaction=True)
            pipe.hset(self.redis.key("tokens"), token_hash, player_id)
            pipe.sadd(self.redis.key("tokens", "of", player_id), token_hash)
            pipe.execute()

        self.redis.call("add_player_token", add)

    def player_for_token(self, token_hash: str) -> int | None:
        raw = self.redis.call(
            "player_for_token", lambda: self.redis.client.hget(self.redis.key("tokens"), token_hash)
        )
        return int(raw) if raw is not None else None

    def revoke_player_tokens(self, player_id: int) -> int:
        self.get_player(player_id)
        self.redis.call("revoke_player_tokens", self._index_old_tokens)
        owned = self.redis.key("tokens", "of", player_id)

        def revoke() -> int:
            hashes = list(self.redis.client.smembers(owned))
            if not hashes:
                return 0
            pipe = self.redis.client.pipeline(transaction=True)
            pipe.hdel(self.redis.key("tokens"), *hashes)
            pipe.srem(owned, *hashes)
            removed, _ = pipe.execute()
            return int(removed)

        count: int = self.redis.call("revoke_player_tokens", revoke)
        return count

    def _index_old_tokens(self) -> None:
        done = self.redis.key("tokens", "indexed")
        if self.redis.client.get(done) is not None:
            return
        cursor = 0
        while True:
            cursor, page = self.redis.client.hscan(
                self.redis.key("tokens"), cursor, count=_SCAN_PAGE
            )
            pipe = self.redis.client.pipeline(transaction=False)
            for token_hash, owner in cast("dict[Any, Any]", page).items():
                pipe.sadd(self.redis.key("tokens", "of", int(owner)), token_hash)
            pipe.execute()
            if cursor == 0:
                break
        self.redis.client.set(done, "1")
