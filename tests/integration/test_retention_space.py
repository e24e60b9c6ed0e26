"""Released state gives its space back: the SQLite file shrinks (incremental vacuum), Redis
memory falls; a file made before incremental vacuum is warned about and converted."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import redis

from bazaar.cli.main import main
from bazaar.domain.catalog import Catalog
from bazaar.domain.model import NewPlayer, TradeRequest, TradeSide
from bazaar.store.redis import RedisStore
from bazaar.store.retention import RetentionPolicy, sweep_once
from bazaar.store.sqlite import SQLiteStore
from tests.support.redis_server import RedisServer, redis_server  # noqa: F401 - fixture

POLICY = RetentionPolicy(outbox=1.0, trades=1.0, consumer_timeout=60.0, idempotency_window=1.0)


def _fill(store: SQLiteStore | RedisStore, trades: int) -> None:
    a = store.create_player(NewPlayer("farmer")).player_id
    b = store.create_player(NewPlayer("farmer")).player_id
    gift = TradeRequest(TradeSide(a, (), 1), TradeSide(b, (), 0))
    back = TradeRequest(TradeSide(b, (), 1), TradeSide(a, (), 0))
    for _ in range(trades // 500):
        store.execute_trades([(gift, None)] * 250 + [(back, None)] * 250)
    store.register_consumer("relay", store.outbox_head())


def _file_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _checkpoint(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_sqlite_file_shrinks_once_trades_and_outbox_are_released(
    tmp_path: Path, catalog: Catalog
) -> None:
    path = tmp_path / "bazaar.db"
    store = SQLiteStore(path, catalog)
    assert store.retention_warning() is None, "a new file vacuums incrementally"
    _fill(store, 20_000)
    _checkpoint(path)
    full = _file_bytes(path)
    t0 = time.time()
    sweep_once(store, POLICY, t0)
    report = sweep_once(store, POLICY, t0 + 2)
    assert report.trades == 20_000 and report.released > 20_000
    _checkpoint(path)
    assert _file_bytes(path) < full / 3, (full, _file_bytes(path))
    store.close()


def test_an_old_sqlite_file_is_warned_about_and_converted(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # as older bazaar versions created it
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE consumers (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)")
        conn.execute("INSERT INTO consumers VALUES ('lake', 7)")
    store = SQLiteStore(path, catalog)
    assert "bazaar outbox vacuum" in (store.retention_warning() or "")
    [old] = store.consumers()
    assert (old.name, old.seq, old.seen_at) == ("lake", 7, 0.0), "never seen: shows as stale"
    store.close()
    assert main(["outbox", "vacuum", "--store", f"sqlite:///{path}"]) == 0
    again = SQLiteStore(path, catalog)
    assert again.retention_warning() is None
    again.close()


def test_redis_memory_falls_when_trades_and_outbox_are_released(
    redis_server: RedisServer,  # noqa: F811
    catalog: Catalog,
) -> None:
    url = redis_server.fresh_url()
    store = RedisStore.from_url(url, catalog)
    client = redis.Redis.from_url(url)
    base = int(client.info("memory")["used_memory"])  # the server's, shared by other tests
    _fill(store, 20_000)
    full = int(client.info("memory")["used_memory"]) - base
    t0 = time.time()
    sweep_once(store, POLICY, t0)
    report = sweep_once(store, POLICY, t0 + 2)
    assert report.trades == 20_000
    assert client.xlen("{bazaar}:outbox") == 0 and client.hlen("{bazaar}:trades") == 0
    after = int(client.info("memory")["used_memory"]) - base
    assert after < full / 3, (full, after)
    client.close()
    store.close()


def test_outbox_cli_shows_consumers_and_drops_one(
    tmp_path: Path, catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'bazaar.db'}"
    store = SQLiteStore(tmp_path / "bazaar.db", catalog)
    _fill(store, 1000)
    store.register_consumer("lake:/data/lake", 10)
    store.close()
    assert main(["outbox", "status", "--store", url]) == 0
    text = capsys.readouterr().out
    assert "lake:/data/lake" in text and "relay" in text and "held by" in text
    assert main(["outbox", "drop-consumer", "lake:/data/lake", "--store", url]) == 0
    with pytest.raises(SystemExit) as exit_:
        main(["outbox", "drop-consumer", "lake:/data/lake", "--store", url])
    assert exit_.value.code == 2
    assert "registered: relay" in capsys.readouterr().err
