"""The Redis store: player state, trades and the outbox in one Redis database.

Every write is ONE Lua script run (EVALSHA): Redis executes it with nothing in between, so
the rules, both player updates, the outbox append and the idempotency record are one atomic
step, across any number of API workers on any number of machines (scripts: redis_scripts.py).

Key layout (prefix `{bazaar}:`; the braces are a hash tag, so on Redis Cluster every key of a
store lives in one slot and a script may touch keys it computes):

    {bazaar}:player:<id>        hash   username, player_class, gold, capacity, version,
                                       created_at, and one field item:<item_id> -> quantity
                                       per item held (quantity > 0); escrow: held_gold,
                                       held:<item_id> (> 0) and hv, bumped when a hold
                                       grows (redis_offers.py)
    {bazaar}:seq:player         string last player id (ids are 1, 2, 3, ... with no gap)
    {bazaar}:seq:trade          string last trade id
    {bazaar}:seq:adjustment     string last grant/consumption id (redis_economy.py)
    {bazaar}:trades             hash   trade_id -> outcome document (JSON, as get_trade returns)
    {bazaar}:clock              string last event instant, microseconds since the epoch
    {bazaar}:outbox             stream entry id 0-<seq>: event_id, event_type, occurred_at,
                                       key, body (the event envelope, compact JSON)
    {bazaar}:seq:outbox         string last outbox seq (outbox_head)
    {bazaar}:idem:<scope>:<key> hash   fingerprint, result; expires after the
                                       idempotency window (Store.idempotency_ttl)

Consumer positions and the release of the outbox: redis_outbox.py; retention marks and the
dropping of old trade records and offers: redis_retention.py.

Failures: every connection error or timeout becomes StoreUnavailable (HTTP 503). Commands
are never retried by the client library: a timed-out script may still run once Redis
resumes, and a blind retry would then run a trade twice. A client that must know retries
with its Idempotency-Key and gets the recorded result.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import (
    ArchivedTrade,
    BazaarError,
    InvalidRequest,
    UnknownPlayer,
    UnknownTrade,
)
from bazaar.domain.model import NewPlayer, PlayerState, TradeRequest, check_username
from bazaar.domain.model import resolve_class as _resolve_class
from bazaar.domain.trading import (
    Accepted,
    Rejected,
    RejectionReason,
    TradeOutcome,
    normalise,
    outcome_from_document,
)
from bazaar.store.base import (
    Idempotency,
    Store,
    StoreCapabilities,
    TradeCall,
    new_event_ids,
)
from bazaar.store.redis_economy import RedisEconomy
from bazaar.store.redis_history import RedisHistory
from bazaar.store.redis_keyspace import RedisKeyspace, player_state
from bazaar.store.redis_offers import RedisOffers
from bazaar.store.redis_outbox import RedisOutbox
from bazaar.store.redis_retention import RedisRetention
from bazaar.store.redis_scripts import create_player_script, trade_script
from bazaar.store.redis_tokens import RedisTokens
from bazaar.store.redis_wire import ScriptCaller

PREFIX = "{bazaar}:"
# Short enough that a stopped Redis turns into 503s within seconds, long enough for a
# busy single-threaded Redis to answer a burst from many workers.
SOCKET_TIMEOUT_SECONDS = 2.0
# Trades per script run: bounds the time Redis spends in one script and Lua's unpack().
MAX_SCRIPT_BATCH = 512
# Lua numbers are doubles: amounts past 2**53 would lose precision inside the script.
_LARGEST_EXACT = 2**53


def _exact(value: int, name: str) -> str:
    if not -_LARGEST_EXACT < value < _LARGEST_EXACT:
        raise InvalidRequest(f"{name} {value} is out of range", field=name)
    return str(value)


class RedisStore(
    RedisOutbox, RedisRetention, RedisOffers, RedisHistory, RedisTokens, RedisEconomy, Store
):
    def __init__(self, client: redis.Redis, catalog: Catalog, *, prefix: str = PREFIX) -> None:
        self.catalog = catalog
        self.client = client
        self.prefix = prefix
        # What every part (outbox, retention, offers, history, tokens, economy) reaches
        # Redis through: no part calls another part's or this class's private methods.
        self.redis = RedisKeyspace(client, prefix)
        trade = trade_script(catalog)
        self._trade = client.register_script(trade)
        self._create = client.register_script(create_player_script(catalog))
        self._trade_keys = [
            self.redis.key("clock"),
            self.redis.key("seq", "trade"),
            self.redis.key("seq", "outbox"),
            self.redis.key("trades"),
            self.redis.outbox,
        ]
        self._on_loop = _script_caller(client, self._trade.sha, trade)
        # Two batches in flight overlap this process's work with the script; api/batching.py
        # awaits execute_trades_async on the event loop when there is a caller for it.
        self.capabilities = StoreCapabilities(
            batches_in_flight=2, async_trades=self._on_loop is not None
        )

    @classmethod
    def from_url(cls, url: str, catalog: Catalog) -> RedisStore:
        client = redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        return cls(client, catalog)

    # -- writes --------------------------------------------------------------------------

    def _idem_args(self, idem: Idempotency | None) -> tuple[str, str]:
        if idem is None:
            return self.redis.key("idem", "-"), ""
        return self.redis.key("idem", idem.key), idem.fingerprint

    def create_player(self, new: NewPlayer, idempotency: Idempotency | None = None) -> PlayerState:
        pc = _resolve_class(self.catalog, new.player_class)
        if new.username is not None:
            check_username(new.username)
        idem_key, fingerprint = self._idem_args(idempotency)
        args: list[str | int] = [
            self.prefix,
            pc.name,
            new.username or "",
            pc.gold,
            pc.capacity,
            fingerprint,
            str(uuid.uuid4()),
            self.idempotency_ttl,
        ]
        for item_id, quantity in pc.items:
            args += [item_id, quantity]
        keys = [
            self.redis.key("seq", "player"),
            idem_key,
            self.redis.key("clock"),
            self.redis.outbox,
            self.redis.key("seq", "outbox"),
        ]
        reply = self.redis.call("create_player", lambda: self._create(keys=keys, args=args))
        if reply[0] == b"reused" and idempotency is not None:  # else 'ok' or 'dup': a state
            raise idempotency.reused()
        return PlayerState.from_document(orjson.loads(reply[1]))

    def execute_trade(
        self, request: TradeRequest, idempotency: Idempotency | None = None
    ) -> TradeOutcome:
        [result] = self.execute_trades([(request, idempotency)])
        if isinstance(result, BazaarError):
            raise result
        return result

    def execute_trades(self, batch: Sequence[TradeCall]) -> list[TradeOutcome | BazaarError]:
        """The batch in order, in ONE script run: one round trip, one atomic step."""
        results: list[TradeOutcome | BazaarError | None] = [None] * len(batch)
        for start in range(0, len(batch), MAX_SCRIPT_BATCH):
            args, sent = self._script_args(batch, start, results)
            if sent:
                reply = self.redis.call(
                    "execute_trades", partial(self._trade, self._trade_keys, args)
                )
                _settle(batch, sent, reply, results)
        return [r for r in results if r is not None]

    # The same, from the event loop (api/batching.py): no thread, no sync client.
    async def execute_trades_async(
        self, batch: Sequence[TradeCall]
    ) -> list[TradeOutcome | BazaarError]:
        assert self._on_loop is not None
        results: list[TradeOutcome | BazaarError | None] = [None] * len(batch)
        for start in range(0, len(batch), MAX_SCRIPT_BATCH):
            args, sent = self._script_args(batch, start, results)
            if sent:
                reply = await self._on_loop(self._trade_keys, args)
                _settle(batch, sent, reply, results)
        return [r for r in results if r is not None]

    def _script_args(
        self,
        batch: Sequence[TradeCall],
        start: int,
        results: list[TradeOutcome | BazaarError | None],
    ) -> tuple[list[str | int], list[int]]:
        """The script's arguments for the chunk at `start`, and which calls went in (a
        request refused here gets its error in `results` and is not sent)."""
        chunk = batch[start : start + MAX_SCRIPT_BATCH]
        args: list[str | int] = [self.prefix, self.idempotency_ttl, 0, self.trade_fee_bps]
        sent: list[int] = []
        for n, (request, idem), event_id in zip(
            range(start, start + len(chunk)), chunk, new_event_ids(len(chunk)), strict=True
        ):
            try:
                args += _trade_args(request, idem, event_id)
            except InvalidRequest as refused:
                results[n] = refused
                continue
            sent.append(n)
        args[2] = len(sent)
        return args, sent

    # -- reads ---------------------------------------------------------------------------

    def get_player(self, player_id: int) -> PlayerState:
        raw = self.redis.call(
            "get_player", lambda: self.client.hgetall(self.redis.key("player", player_id))
        )
        if not raw:
            raise UnknownPlayer(player_id)
        return player_state(player_id, raw)

    def player_ids(self) -> list[int]:
        last = self.redis.call(
            "player_ids", lambda: self.client.get(self.redis.key("seq", "player"))
        )
        return list(range(1, int(last) + 1)) if last else []

    def players(self) -> list[PlayerState]:
        ids = self.player_ids()

        def snapshot() -> list[Any]:
            # MULTI/EXEC: one consistent view of all players, as SQLite's single SELECT.
            pipe = self.client.pipeline(transaction=True)
            for pid in ids:
                pipe.hgetall(self.redis.key("player", pid))
            return pipe.execute()

        raws = self.redis.call("players", snapshot)
        return [player_state(pid, raw) for pid, raw in zip(ids, raws, strict=True) if raw]

    def get_trade(self, trade_id: int) -> TradeOutcome:
        raw = self.redis.call(
            "get_trade", lambda: self.client.hget(self.redis.key("trades"), trade_id)
        )
        if raw is None:
            if 0 < trade_id <= self.archived().trades:
                raise ArchivedTrade(trade_id)
            raise UnknownTrade(trade_id)
        return outcome_from_document(orjson.loads(raw))

    def ping(self) -> None:
        self.redis.call("ping", self.client.ping)

    def durability_warning(self) -> str | None:
        """A sentence for the operator when this Redis keeps nothing across a restart."""
        try:
            aof = self.client.config_get("appendonly").get("appendonly")
            save = self.client.config_get("save").get("save")
        except redis.RedisError:
            return None  # CONFIG disabled (managed Redis): nothing we can tell
        if aof == "no" and not save:
            return (
                'Redis has no persistence (appendonly no, save ""): a Redis restart loses'
                " every player, trade and unrelayed event. See docs/OPERATIONS.md."
            )
        return None

    def close(self) -> None:
        if self._on_loop is not None:
            self._on_loop.close()
        self.client.close()


def _script_caller(client: redis.Redis, sha: str, script: str) -> ScriptCaller | None:
    """The trade script's event-loop caller, for a client on plain TCP (a Unix socket, TLS
    or a credential provider stay on the sync client, through the thread pool)."""
    pool = client.connection_pool
    kw = pool.connection_kwargs
    if pool.connection_class is not redis.Connection or kw.get("credential_provider"):
        return None
    return ScriptCaller(
        kw.get("host", "localhost"),
        int(kw.get("port", 6379)),
        db=int(kw.get("db", 0) or 0),
        username=kw.get("username"),
        password=kw.get("password"),
        sha=sha,
        script=script,
        timeout=float(kw.get("socket_timeout") or SOCKET_TIMEOUT_SECONDS),
    )


def _settle(
    batch: Sequence[TradeCall],
    sent: list[int],
    reply: Sequence[Any],
    results: list[TradeOutcome | BazaarError | None],
) -> None:
    for i, n in enumerate(sent):
        kind, value = reply[2 * i], reply[2 * i + 1]
        request, idem = batch[n]
        if kind == b"ok":
            results[n] = _outcome(orjson.loads(value), request)
        elif kind == b"unknown":
            results[n] = UnknownPlayer(int(value))
        elif kind == b"reused" and idem is not None:
            results[n] = idem.reused()
        else:  # b"dup": the outcome recorded under this key, decoded in full
            results[n] = outcome_from_document(orjson.loads(value))


def _outcome(doc: dict[str, Any], request: TradeRequest) -> TradeOutcome:
    """The script's outcome document for a trade it just ran: its request is `request` with
    lines merged, as the script merged them, so only the new parts are decoded."""
    if doc["status"] == "accepted":
        fee_1, fee_2 = doc.get("fees", (0, 0))
        return Accepted(
            doc["trade_id"],
            doc["executed_at"],
            normalise(request),
            _player_state(doc["player_1"]),
            _player_state(doc["player_2"]),
            fee_1,
            fee_2,
        )
    return Rejected(
        doc["trade_id"],
        doc["executed_at"],
        normalise(request),
        RejectionReason(doc["reason"]),
        doc["detail"],
    )


def _player_state(doc: dict[str, Any]) -> PlayerState:
    # The script writes every number as a JSON integer: no conversions needed but the keys.
    return PlayerState(
        doc["player_id"],
        doc["username"],
        doc["player_class"],
        doc["gold"],
        {int(item_id): quantity for item_id, quantity in doc["items"].items()},
        doc["capacity"],
        doc["version"],
        doc["created_at"],
    )


def _trade_args(request: TradeRequest, idem: Idempotency | None, event_id: str) -> list[str | int]:
    one, two = request.player_1, request.player_2
    args: list[str | int] = [
        one.player_id,
        _exact(one.gold, "gold"),
        len(one.items),
        two.player_id,
        _exact(two.gold, "gold"),
        len(two.items),
        idem.key if idem else "",
        idem.fingerprint if idem else "",
        event_id,
    ]
    for side in (one, two):
        for line in side.items:
            args += [line.item_id, _exact(line.quantity, "quantity")]
    return args
