"""Every `bazaar ask` question on a lake of N trades (default 10,000,000), on DuckDB and Spark.

The lake is generated in-process with numpy/pyarrow straight into Delta tables of the lake
contract (docs/LAKE.md): one item line from player_1 per trade, paid in gold, and a second
item line from player_2 in a fifth of trades; N/100 players; 5% rejected trades; ten days.
Values are random, so the conservation audit sees drift (and runs its per-player ledger,
the slow path, which is what we want to time). Each question runs once to warm, then three
timed runs; the median is reported.

    .venv/bin/python benchmarks/queries.py                 # 10 M trades, both engines
    .venv/bin/python benchmarks/queries.py --trades 100000 --engines duckdb
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake

from bazaar.analytics.engines import Engine, open_engine, stop_spark
from bazaar.analytics.exploits import DETECTORS
from bazaar.analytics.questions import QUESTIONS, AskOptions
from bazaar.domain.catalog import load_catalog
from bazaar.lake.tables import SCHEMAS

T0_US = 1_780_000_000_000_000  # 2026-05-28
DAYS_US = 10 * 86_400 * 1_000_000


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us, pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _ids(prefix: str, n: int, start: int = 0) -> pa.Array:
    numbers = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, numbers, "")


def _dates(ts: pa.Array) -> pa.Array:
    return pc.strftime(ts, format="%Y-%m-%d")


def _write(lake: Path, table: str, columns: dict[str, Any]) -> int:
    schema = SCHEMAS[table]
    data = pa.table({f.name: columns[f.name] for f in schema}, schema=schema)
    write_deltalake(str(lake / table), data, partition_by=["event_date"], mode="overwrite")
    return data.num_rows


def _versions(owner: np.ndarray) -> np.ndarray:
    """1-based occurrence number of each element among equal elements, in array order."""
    order = np.argsort(owner, kind="stable")
    sorted_owner = owner[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_owner)) + 1]
    lengths = np.diff(np.r_[starts, len(owner)])
    rank = np.arange(len(owner)) - np.repeat(starts, lengths)
    out = np.empty_like(rank)
    out[order] = rank + 1
    return out


def generate(lake: Path, trades: int, seed: int = 7) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    catalog = load_catalog()
    values = np.zeros(max(catalog.items) + 1, dtype=np.int64)
    for item in catalog.items.values():
        values[item.item_id] = item.value
    players = max(10, trades // 100)
    n_items = len(catalog.items)
    counts: dict[str, int] = {}

    pid = np.arange(1, players + 1, dtype=np.int64)
    created = T0_US + np.arange(players, dtype=np.int64)
    created_ts = _ts(created)
    gold0 = rng.choice([500, 1000, 50_000, 5_000_000], players)
    counts["players"] = _write(
        lake,
        "players",
        {
            "player_id": pid,
            "username": _ids("player-", players, 1),
            "player_class": pa.array(np.full(players, "farmer")),
            "gold": gold0,
            "capacity": np.full(players, 999),
            "created_at": created_ts,
            "event_id": _ids("p-", players),
            "event_date": _dates(created_ts),
            "source": pa.array(np.full(players, "bench")),
            "position": pid,
        },
    )

    t = np.sort(rng.integers(T0_US + players, T0_US + DAYS_US, trades))
    t_ts = _ts(t)
    trade_id = np.arange(1, trades + 1, dtype=np.int64)
    p1 = rng.integers(1, players + 1, trades)
    p2 = (p1 + rng.integers(1, players, trades) - 1) % players + 1
    item_1 = rng.integers(1, n_items + 1, trades)
    qty_1 = rng.integers(1, 6, trades)
    second = rng.random(trades) < 0.2
    item_2 = rng.integers(1, n_items + 1, trades)
    qty_2 = rng.integers(1, 6, trades)
    value_1 = values[item_1] * qty_1
    value_2 = np.where(second, values[item_2] * qty_2, 0)
    gold_2 = np.maximum(value_1 - value_2, 0)
    event_id = _ids("t-", trades)
    event_date = _dates(t_ts)
    counts["trades"] = _write(
        lake,
        "trades",
        {
            "trade_id": trade_id,
            "executed_at": t_ts,
            "player_1_id": p1,
            "player_2_id": p2,
            "player_1_gold": np.zeros(trades, dtype=np.int64),
            "player_2_gold": gold_2,
            "player_1_items_value": value_1,
            "player_2_items_value": value_2,
            "item_lines": 1 + second.astype(np.int64),
            "event_id": event_id,
            "event_date": event_date,
            "source": pa.array(np.full(trades, "bench")),
            "position": trade_id,
        },
    )
    sel = np.flatnonzero(second)
    ti = {
        "trade_id": np.r_[trade_id, trade_id[sel]],
        "executed_at": np.r_[t, t[sel]],
        "item_id": np.r_[item_1, item_2[sel]],
        "giver_id": np.r_[p1, p2[sel]],
        "receiver_id": np.r_[p2, p1[sel]],
        "quantity": np.r_[qty_1, qty_2[sel]],
    }
    ti_ts = _ts(ti["executed_at"])
    counts["trade_items"] = _write(
        lake,
        "trade_items",
        {
            **ti,
            "executed_at": ti_ts,
            "unit_value": values[ti["item_id"]],
            "event_id": pc.take(event_id, pa.array(np.r_[np.arange(trades), sel])),
            "event_date": _dates(ti_ts),
        },
    )

    rejected = trades // 20
    r_t = _ts(np.sort(rng.integers(T0_US + players, T0_US + DAYS_US, rejected)))
    r_id = np.arange(trades + 1, trades + rejected + 1, dtype=np.int64)
    counts["rejected_trades"] = _write(
        lake,
        "rejected_trades",
        {
            "trade_id": r_id,
            "executed_at": r_t,
            "reason": pa.array(np.full(rejected, "insufficient_items")),
            "detail": pa.nulls(rejected, pa.string()),
            "player_1_id": rng.integers(1, players + 1, rejected),
            "player_2_id": rng.integers(1, players + 1, rejected),
            "player_1_gold": np.zeros(rejected, dtype=np.int64),
            "player_2_gold": np.zeros(rejected, dtype=np.int64),
            "event_id": _ids("r-", rejected),
            "event_date": _dates(r_t),
            "source": pa.array(np.full(rejected, "bench")),
            "position": r_id,
        },
    )

    # States: creation (version 1), then one per side of each trade, in time order.
    owner = np.r_[pid, np.column_stack([p1, p2]).ravel()]
    s_t = np.r_[created, np.repeat(t, 2)]
    version = _versions(owner)
    states = len(owner)
    s_ts = _ts(s_t)
    s_trade = np.r_[np.zeros(players, dtype=np.int64), np.repeat(trade_id, 2)]
    s_event = pa.concat_arrays(
        [_ids("p-", players), pc.take(event_id, pa.array(np.repeat(np.arange(trades), 2)))]
    )
    counts["player_states"] = _write(
        lake,
        "player_states",
        {
            "player_id": owner,
            "version": version,
            "at": s_ts,
            "gold": rng.integers(0, 100_000, states),
            "distinct_items": rng.integers(1, 13, states),
            "items_value": rng.integers(0, 10_000_000, states),
            "items_held": rng.integers(1, 1000, states),
            "cause": pa.array(np.where(np.arange(states) < players, "created", "trade")),
            "trade_id": pa.array(s_trade, mask=np.arange(states) < players),
            "event_id": s_event,
            "event_date": _dates(s_ts),
        },
    )

    # Holdings: two starting stacks per player, then giver and receiver of each item line.
    side_version = version[players:].reshape(trades, 2)  # (player_1, player_2) per trade
    v_giver = np.r_[side_version[:, 0], side_version[sel, 1]]
    v_receiver = np.r_[side_version[:, 1], side_version[sel, 0]]
    h_player = np.r_[np.repeat(pid, 2), ti["giver_id"], ti["receiver_id"]]
    h_item = np.r_[rng.integers(1, n_items + 1, 2 * players), ti["item_id"], ti["item_id"]]
    h_version = np.r_[np.ones(2 * players, dtype=np.int64), v_giver, v_receiver]
    h_t = np.r_[np.repeat(created, 2), ti["executed_at"], ti["executed_at"]]
    h_ts = _ts(h_t)
    rows = len(h_player)
    h_event = pa.concat_arrays(
        [
            _ids("p-", players).take(pa.array(np.repeat(np.arange(players), 2))),
            pc.take(event_id, pa.array(ti["trade_id"] - 1)),
            pc.take(event_id, pa.array(ti["trade_id"] - 1)),
        ]
    )
    counts["holdings"] = _write(
        lake,
        "holdings",
        {
            "player_id": h_player,
            "item_id": h_item,
            "quantity": rng.integers(0, 500, rows),
            "version": h_version,
            "at": h_ts,
            "event_id": h_event,
            "event_date": _dates(h_ts),
        },
    )
    return counts


def _timings(engine: Engine, options: AskOptions) -> dict[str, list[float]]:
    work: dict[str, Callable[[], Any]] = {
        qid: (lambda q=q: q.answer(engine, options))
        for qid, q in QUESTIONS.items()
        if qid != "exploits"
    }
    for name, detect in DETECTORS.items():
        work[f"exploits/{name}"] = lambda d=detect: d(engine, options)
    times: dict[str, list[float]] = {}
    for name, call in work.items():
        call()  # warm: file metadata, JIT, caches
        runs = []
        for _ in range(3):
            began = time.perf_counter()
            call()
            runs.append(time.perf_counter() - began)
        times[name] = runs
        print(f"  {engine.name:6} {name:28} median {statistics.median(runs) * 1000:9.0f} ms")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000_000)
    parser.add_argument("--lake", type=Path, help="lake dir (default /tmp/bazaar-bench-lake-N)")
    parser.add_argument("--regenerate", action="store_true", help="rebuild an existing lake")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--at", help="also time every question as of this instant")
    args = parser.parse_args()
    lake = args.lake or Path(f"/tmp/bazaar-bench-lake-{args.trades}")
    if args.regenerate and lake.exists():
        shutil.rmtree(lake)
    if not lake.exists():
        began = time.perf_counter()
        counts = generate(lake, args.trades)
        print(f"generated {counts} in {time.perf_counter() - began:.1f} s at {lake}")
    from bazaar.analytics.questions import parse_at

    options = AskOptions(at=parse_at(args.at) if args.at else None)
    results: dict[str, dict[str, list[float]]] = {}
    for name in args.engines.split(","):
        began = time.perf_counter()
        engine = open_engine(name, lake, spark_master=args.spark_master)
        print(f"{name}: opened in {time.perf_counter() - began:.1f} s")
        results[name] = _timings(engine, options)
        engine.close()
    stop_spark()
    names = list(next(iter(results.values())))
    print("\n| question | " + " | ".join(f"{e} (ms)" for e in results) + " | spark/duckdb |")
    print("|---|" + "---:|" * (len(results) + 1))
    for q in names:
        medians = {e: statistics.median(results[e][q]) * 1000 for e in results}
        ratio = (
            f"{medians['spark'] / medians['duckdb']:.1f}x"
            if {"spark", "duckdb"} <= medians.keys()
            else "-"
        )
        cells = " | ".join(f"{medians[e]:,.0f}" for e in results)
        print(f"| {q} | {cells} | {ratio} |")


if __name__ == "__main__":
    main()
