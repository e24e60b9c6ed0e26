"""The Redis store against a real redis-server: the Lua rules agree with the Python domain,
a frozen Redis turns into clean 503s without losing or duplicating anything, and `serve`
warns when Redis keeps nothing across a restart."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st

from bazaar.cli.common import free_port
from bazaar.codec import decode_event, encode_event
from bazaar.domain.catalog import Catalog, load_catalog
from bazaar.domain.clock import format_instant, parse_instant
from bazaar.domain.errors import BazaarError, IdempotencyKeyReused, UnknownPlayer
from bazaar.domain.events import player_created, trade_event
from bazaar.domain.model import ItemLine, NewPlayer, PlayerState, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted, execute_trade
from bazaar.store.base import Idempotency, TradeCall
from bazaar.store.redis import RedisStore
from tests.support.ledger import holdings, outbox_events, supply
from tests.support.redis_server import RedisServer, redis_server  # noqa: F401 - fixture
from tests.support.server import running_server
from tests.support.trades import TradeGenerator, add_players, snapshot

CATALOG = load_catalog()
CATALOG_IDS = sorted(CATALOG.items)
HUGE_ID = 2**63 - 1


@pytest.fixture
def redis_store(redis_server: RedisServer) -> Iterator[RedisStore]:  # noqa: F811
    store = RedisStore.from_url(redis_server.fresh_url(), CATALOG)
    yield store
    store.close()


# -- the Lua rules against bazaar.domain.trading ---------------------------------------

_quantity = st.one_of(st.integers(1, 12), st.integers(1, 1200), st.integers(1, 10**9))
_gold = st.one_of(st.just(0), st.integers(0, 2_000), st.integers(0, 10**15))
_names = st.text(alphabet='ab Zé漢"\\/-._', min_size=1, max_size=12)


@st.composite
def _state(draw: st.DrawFn, player_id: int) -> PlayerState:
    held_ids = draw(
        st.lists(st.sampled_from([*CATALOG_IDS, 77]), min_size=1, max_size=5, unique=True)
    )
    items = {i: draw(_quantity) for i in held_ids}
    held = sum(items.values())
    # escrow: some of it held by open offers, sometimes all of it
    escrow = {i: draw(st.integers(0, q)) for i, q in items.items() if draw(st.integers(0, 3)) == 0}
    gold = draw(st.one_of(st.integers(1, 2_000), _gold))
    return PlayerState(
        player_id=player_id,
        username=draw(_names),
        player_class=draw(st.sampled_from(sorted(CATALOG.classes))),
        gold=gold,
        items=items,
        # near what it holds, so capacity decides often (and some start over capacity)
        capacity=max(1, held + draw(st.integers(-5, 40))),
        version=draw(st.integers(1, 10_000)),
        created_at="2026-11-29T10:00:00.000001Z",
        held_gold=draw(st.integers(0, gold)) if draw(st.integers(0, 3)) == 0 else 0,
        held_items={i: q for i, q in escrow.items() if q},
    )


@st.composite
def _line(draw: st.DrawFn, state: PlayerState) -> ItemLine:
    kind = draw(st.integers(0, 9))
    if kind < 9 and state.items:
        item_id = draw(st.sampled_from(sorted(state.items)))
        held = state.items[item_id]
        quantity = draw(
            st.integers(1, max(1, held // 3)) if kind < 8 else st.integers(held, held + 1)
        )
        return ItemLine(item_id, quantity)
    return ItemLine(draw(st.sampled_from([*CATALOG_IDS, 77, 999, HUGE_ID])), draw(_quantity))


@st.composite
def _side(draw: st.DrawFn, state: PlayerState) -> TradeSide:
    lines = draw(st.lists(_line(state), max_size=4))
    gold = draw(st.integers(0, state.gold) if draw(st.booleans()) else _gold)
    return TradeSide(state.player_id, tuple(lines), gold)


@st.composite
def _scenario(draw: st.DrawFn) -> tuple[TradeRequest, PlayerState, PlayerState]:
    id_1 = draw(st.sampled_from([1, 2, 3, HUGE_ID]))
    id_2 = id_1 if draw(st.integers(0, 30)) == 0 else draw(st.sampled_from([4, 5, HUGE_ID - 1]))
    one = draw(_state(id_1))
    two = one if id_2 == id_1 else draw(_state(id_2))
    return TradeRequest(draw(_side(one)), draw(_side(two))), one, two


def _put(store: RedisStore, state: PlayerState) -> None:
    key = store.redis.key("player", state.player_id)
    mapping: dict[str, str | int] = {
        "username": state.username,
        "player_class": state.player_class,
        "gold": state.gold,
        "capacity": state.capacity,
        "version": state.version,
        "created_at": state.created_at,
    }
    mapping.update({f"item:{i}": q for i, q in state.items.items()})
    mapping.update({f"held:{i}": q for i, q in state.held_items.items()})
    if state.held_gold:
        mapping["held_gold"] = state.held_gold
    store.client.delete(key)
    store.client.hset(key, mapping=mapping)


@settings(
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenario=_scenario(), fee_bps=st.sampled_from([0, 0, 0, 1, 250, 9_999, 10_000]))
def test_lua_rules_match_the_python_domain(
    redis_store: RedisStore, scenario: tuple[TradeRequest, PlayerState, PlayerState], fee_bps: int
) -> None:
    request, one, two = scenario
    store = redis_store
    store.trade_fee_bps = fee_bps
    _put(store, one)
    _put(store, two)
    outcome = store.execute_trade(request)
    expected = execute_trade(
        CATALOG,
        request,
        one,
        two,
        trade_id=outcome.trade_id,
        executed_at=outcome.executed_at,
        fee_bps=fee_bps,
    )
    label(str(getattr(expected, "reason", "accepted")))
    # (a trade's recorded states leave escrow out: compared through get_player below)
    assert outcome.to_document() == expected.to_document()
    stored = store.client.hget(store.redis.key("trades"), outcome.trade_id)
    assert stored == orjson.dumps(expected.to_document())
    [entry] = store.read_outbox(after=store.outbox_head() - 1, limit=1)
    event = trade_event(CATALOG, expected, event_id=entry.event_id)
    # The Lua encodes events itself (atomicity): pinned here to the one codec, both ways.
    assert entry.body == encode_event(event), "event bytes differ from the codec's"
    assert decode_event(entry.body) == event
    assert (entry.event_type, entry.occurred_at, entry.key) == (
        event.event_type,
        event.occurred_at,
        str(one.player_id),
    )
    after = (expected.player_1, expected.player_2) if isinstance(expected, Accepted) else (one, two)
    assert store.get_player(one.player_id) == after[0]
    assert store.get_player(two.player_id) == after[1]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    player_class=st.sampled_from(sorted(CATALOG.classes)),
    username=st.none()
    | st.text(alphabet="abcXYZ09_-. éß漢", min_size=1, max_size=32).filter(
        lambda u: u == u.strip()
    ),
)
def test_lua_player_creation_matches_the_python_domain(
    redis_store: RedisStore, player_class: str, username: str | None
) -> None:
    before = datetime.now(UTC)
    state = redis_store.create_player(NewPlayer(player_class, username))
    assert redis_store.get_player(state.player_id) == state
    assert state.username == (username or f"{player_class}-{state.player_id}")
    assert dict(state.items) == dict(CATALOG.classes[player_class].items)
    [entry] = redis_store.read_outbox(after=redis_store.outbox_head() - 1)
    event = player_created(CATALOG, state, event_id=entry.event_id)
    assert entry.body == encode_event(event), "event bytes differ from the codec's"
    assert decode_event(entry.body) == event
    moment = parse_instant(state.created_at)
    assert format_instant(moment) == state.created_at
    assert before - timedelta(seconds=1) < moment < datetime.now(UTC) + timedelta(seconds=1)


def test_a_batch_runs_trade_after_trade_like_the_domain(redis_store: RedisStore) -> None:
    store = redis_store
    classes = ("farmer", "hunter", "tailor", "blacksmith")
    states = {s.player_id: s for s in (store.create_player(NewPlayer(c)) for c in classes)}
    ids = sorted(states)
    gen = TradeGenerator(5, snapshot(store))
    calls: list[TradeCall] = [(gen.next(), None) for _ in range(300)]
    paid = TradeRequest(TradeSide(ids[0], gold=3), TradeSide(ids[1]))
    other = TradeRequest(TradeSide(ids[0], gold=4), TradeSide(ids[1]))
    key = Idempotency.for_request("trades", "k", paid.to_document())
    calls[10:10] = [(paid, key)]
    calls[20:20] = [(paid, key)]  # a retry within the same batch gets the recorded outcome
    calls[30:30] = [(other, Idempotency.for_request("trades", "k", other.to_document()))]
    calls[40:40] = [(TradeRequest(TradeSide(ids[0], gold=1), TradeSide(10_000)), None)]

    results = store.execute_trades(calls)

    assert isinstance(results[40], UnknownPlayer)
    assert isinstance(results[30], IdempotencyKeyReused)
    assert results[20] == results[10]
    trade_ids = []
    for n, ((request, _), result) in enumerate(zip(calls, results, strict=True)):
        if n in (20, 30, 40):
            continue
        assert not isinstance(result, BazaarError)
        one, two = request.player_1.player_id, request.player_2.player_id
        expected = execute_trade(
            CATALOG,
            request,
            states[one],
            states[two],
            trade_id=result.trade_id,
            executed_at=result.executed_at,
        )
        assert result == expected
        if isinstance(expected, Accepted):
            states[one], states[two] = expected.player_1, expected.player_2
        trade_ids.append(result.trade_id)
    assert trade_ids == list(range(1, len(calls) - 2))
    assert {pid: store.get_player(pid) for pid in ids} == states
    assert store.outbox_head() == len(classes) + len(trade_ids)


def test_amounts_a_lua_number_cannot_hold_are_refused(redis_store: RedisStore) -> None:
    a = redis_store.create_player(NewPlayer("farmer")).player_id
    b = redis_store.create_player(NewPlayer("banker")).player_id
    huge = TradeRequest(TradeSide(a, (ItemLine(5, 2**60),)), TradeSide(b))
    with pytest.raises(Exception) as raised:
        redis_store.execute_trade(huge)
    assert getattr(raised.value, "reason", None) == "invalid_request"
    assert redis_store.outbox_head() == 2


# -- outages ---------------------------------------------------------------------------


def test_stopped_redis_gives_503_and_never_half_a_trade(
    redis_server: RedisServer,  # noqa: F811
    catalog: Catalog,
) -> None:
    url = redis_server.fresh_url()
    store = RedisStore.from_url(url, catalog)
    add_players(store, 20)
    view = snapshot(store)
    statuses: Counter[int] = Counter()
    after_resume: Counter[int] = Counter()
    missing_retry_after: list[int] = []
    resumed_at: list[float] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(seed: int, api: str) -> None:
        gen = TradeGenerator(seed, view)
        with httpx.Client(base_url=api, timeout=30) as http:
            while not stop.is_set():
                r = http.post("/trades", json=gen.next().to_document())
                with lock:
                    statuses[r.status_code] += 1
                    if resumed_at and time.monotonic() > resumed_at[0] + 0.5:
                        after_resume[r.status_code] += 1
                    if r.status_code == 503 and not r.headers.get("Retry-After"):
                        missing_retry_after.append(r.status_code)

    with running_server(url, workers=2) as api:
        threads = [threading.Thread(target=client, args=(n, api)) for n in range(16)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        with redis_server.stopped():
            time.sleep(3.0)
        resumed_at.append(time.monotonic())
        time.sleep(3.0)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert httpx.get(f"{api}/health").status_code == 200

    assert set(statuses) <= {200, 409, 503}, statuses
    assert statuses[503] > 0, "the outage was not noticed"
    assert not missing_retry_after
    assert after_resume[200] > 0, f"API did not recover: {after_resume}"
    assert holdings(store) == supply(catalog, store), "gold or items created or destroyed"
    events = outbox_events(store)
    traded = sorted(e["payload"]["trade_id"] for e in events if "trade_id" in e["payload"])
    recorded = int(store.client.get(store.redis.key("seq", "trade")) or 0)
    assert traded == list(range(1, recorded + 1)), "one event per recorded trade"
    store.close()


def test_redis_unreachable_is_store_unavailable(catalog: Catalog) -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", catalog)
    with pytest.raises(Exception) as raised:
        store.create_player(NewPlayer("farmer"))
    assert getattr(raised.value, "reason", None) == "store_unavailable"


# -- durability --------------------------------------------------------------------------


def _serve_banner(store_url: str) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bazaar", "serve", "--store", store_url, "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "bazaar serving on" in line:
                break
    finally:
        proc.kill()
        proc.wait(timeout=10)
    return "".join(lines)


def test_serve_warns_when_redis_keeps_nothing(redis_server: RedisServer) -> None:  # noqa: F811
    url = redis_server.fresh_url()
    assert "no persistence" in _serve_banner(url)
    store = RedisStore.from_url(url, load_catalog())
    store.client.config_set("save", "3600 1")
    try:
        assert store.durability_warning() is None
        assert "no persistence" not in _serve_banner(url)
    finally:
        store.client.config_set("save", "")
        store.close()
