"""Every `bazaar ask` question on a lake of N trades (default 10,000,000), on DuckDB and Spark.

The lake is generated in-process with numpy/pyarrow straight into Delta tables of the lake
contract (docs/LAKE.md): one item line from player_1 per trade, a second item line from
player_2 in a fifth of trades, the value difference paid in gold; N/500 players; 5%
rejected trades; ten days. The lake is consistent (holdings and player states follow from
the creation stock and the trades), so the conservation audit finds no drift and, as in a
correct production run, never runs its per-player ledger. Each question runs once to warm,
then three timed runs; the median is reported.

    .venv/bin/python benchmarks/queries.py                 # 10 M trades, both engines
    .venv/bin/python benchmarks/queries.py --trades 100000 --engines duckdb
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake

from bazaar.analytics.asking import AskOptions, parse_at
from bazaar.analytics.engines import Engine, open_engine
from bazaar.analytics.exploits import DETECTORS
from bazaar.analytics.questions import QUESTIONS
from bazaar.domain.catalog import load_catalog
from bazaar.lake.tables import SCHEMAS
from bazaar.spark.session import stop_spark

T0_US = 1_780_000_000_000_000  # 2026-05-28
DAYS_US = 10 * 86_400 * 1_000_000
PLAYERS_PER_TRADE = 500  # 10 M trades: 20,000 players, ~1,000 trades each


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us, pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _ids(prefix: str, n: int, start: int = 0) -> pa.Array:
    numbers = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, numbers, "")


def _dates(us: np.ndarray) -> pa.Array:
    """UTC dates of epoch microseconds, by day number (formatting each timestamp is slow)."""
    day = us // 86_400_000_000
    first = int(day.min()) if len(day) else 0
    names = pc.strftime(
        _ts(np.arange(first, int(day.max(initial=first)) + 1) * 86_400_000_000), format="%Y-%m-%d"
    )
    return pc.take(names, pa.array(day - first))


def _write(lake: Path, table: str, columns: dict[str, Any]) -> int:
    schema = SCHEMAS[table]
    data = pa.table({f.name: columns[f.name] for f in schema}, schema=schema)
    write_deltalake(str(lake / table), data, partition_by=["event_date"], mode="overwrite")
    return int(data.num_rows)


def _versions(owner: np.ndarray) -> np.ndarray:
    """1-based occurrence number of each element among equal elements, in array order."""
    order = np.argsort(owner, kind="stable")
    sorted_owner = owner[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_owner)) + 1]
    lengths = np.diff(np.r_[starts, len(owner)])
    rank = np.arange(len(owner)) - np.repeat(starts, lengths)
    out = np.empty_like(rank)
    out[order] = rank + 1
    result: np.ndarray = out
    return result


def _segments(keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal values in sorted `keys`."""
    return np.r_[0, np.flatnonzero(np.diff(keys)) + 1] if len(keys) else np.zeros(0, np.int64)


def _running(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sum of `values` restarting at every segment start."""
    total = np.cumsum(values)
    lengths = np.diff(np.r_[starts, len(values)])
    before = np.repeat(total[starts] - values[starts], lengths)
    result: np.ndarray = total - before
    return result


def _floor(running: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per segment, the smallest start that keeps `start + running` >= 0 throughout."""
    return np.maximum(0, -np.minimum.reduceat(running, starts))


def generate(lake: Path, trades: int, seed: int = 7) -> dict[str, int]:
    """A lake a correct run could have produced: every holding and player state follows from
    the creation stock and the trades, so supply is conserved (the ledger audit never runs,
    as in production). Starting stock and gold are chosen after the trades, just large
    enough that nobody ever holds a negative quantity."""
    rng = np.random.default_rng(seed)
    catalog = load_catalog()
    values = np.zeros(max(catalog.items) + 1, dtype=np.int64)
    for item in catalog.items.values():
        values[item.item_id] = item.value
    players = max(10, trades // PLAYERS_PER_TRADE)
    n_items = len(catalog.items)
    counts: dict[str, int] = {}

    # -- trades: player_1 gives one item line; in a fifth of trades player_2 gives one too;
    # whoever gives less value makes up the difference in gold.
    pid = np.arange(1, players + 1, dtype=np.int64)
    created = T0_US + np.arange(players, dtype=np.int64)
    t = np.sort(rng.integers(T0_US + players, T0_US + DAYS_US, trades))
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
    gold_1 = np.maximum(value_2 - value_1, 0)
    gold_2 = np.maximum(value_1 - value_2, 0)
    sel = np.flatnonzero(second)
    line_trade = np.r_[np.arange(trades), sel]  # trade index of each item line
    line_item = np.r_[item_1, item_2[sel]]
    line_giver = np.r_[p1, p2[sel]]
    line_receiver = np.r_[p2, p1[sel]]
    line_qty = np.r_[qty_1, qty_2[sel]]

    # -- versions: creation is version 1, then one state per side of each trade, in time order.
    owner = np.r_[pid, np.column_stack([p1, p2]).ravel()]
    version = _versions(owner)
    side_version = version[players:].reshape(trades, 2)

    # -- holdings changes: one row per (player, item, trade), both lines of an item netted.
    ch_player = np.r_[line_giver, line_receiver]
    ch_item = np.r_[line_item, line_item]
    ch_trade = np.r_[line_trade, line_trade]
    ch_delta = np.r_[-line_qty, line_qty]
    order = np.lexsort((ch_trade, ch_item, ch_player))
    ch_player, ch_item, ch_trade, ch_delta = (
        ch_player[order],
        ch_item[order],
        ch_trade[order],
        ch_delta[order],
    )
    same = (np.diff(ch_player) == 0) & (np.diff(ch_item) == 0) & (np.diff(ch_trade) == 0)
    firsts = np.r_[0, np.flatnonzero(~same) + 1]
    ch_delta = np.add.reduceat(ch_delta, firsts)
    ch_player, ch_item, ch_trade = ch_player[firsts], ch_item[firsts], ch_trade[firsts]
    stack = _segments(ch_player * (n_items + 1) + ch_item)  # one run per (player, item)
    running = _running(ch_delta, stack)
    start_qty = _floor(running, stack) + rng.integers(0, 4, len(stack))
    stack_len = np.diff(np.r_[stack, len(ch_delta)])
    after = np.repeat(start_qty, stack_len) + running
    before = after - ch_delta
    ch_version = np.where(
        ch_player == p1[ch_trade], side_version[ch_trade, 0], side_version[ch_trade, 1]
    )
    # Creation stock: what the trades needed, plus a few untouched stacks per player.
    extra_player = np.repeat(pid, 2)
    extra_item = rng.integers(1, n_items + 1, 2 * players)
    cr_player = np.r_[ch_player[stack], extra_player]
    cr_item = np.r_[ch_item[stack], extra_item]
    cr_qty = np.r_[start_qty, rng.integers(1, 50, 2 * players)]
    order = np.lexsort((cr_item, cr_player))
    cr_player, cr_item, cr_qty = cr_player[order], cr_item[order], cr_qty[order]
    firsts = _segments(cr_player * (n_items + 1) + cr_item)
    cr_qty = np.add.reduceat(cr_qty, firsts) if len(firsts) else cr_qty
    cr_player, cr_item = cr_player[firsts], cr_item[firsts]
    # An untouched extra stack adds to a traded one: shift that stack's later quantities.
    traded_key = ch_player[stack] * (n_items + 1) + ch_item[stack]
    cr_key = cr_player * (n_items + 1) + cr_item
    # cr_key is sorted and holds every traded stack: its merged creation quantity, less the
    # stock the trades needed, is what the extra stacks added.
    bonus_of_stack = cr_qty[np.searchsorted(cr_key, traded_key)] - start_qty
    after = after + np.repeat(bonus_of_stack, stack_len)
    before = before + np.repeat(bonus_of_stack, stack_len)
    keep = cr_qty > 0
    cr_player, cr_item, cr_qty = cr_player[keep], cr_item[keep], cr_qty[keep]

    # -- gold: creation gold is what the trades needed plus a random purse.
    side_gold = np.column_stack([gold_2 - gold_1, gold_1 - gold_2]).ravel()
    state_order = np.lexsort((version, owner))
    st_owner = owner[state_order]
    st_starts = _segments(st_owner)
    gold_delta = np.r_[np.zeros(players, np.int64), side_gold][state_order]
    gold_run = _running(gold_delta, st_starts)
    gold0 = _floor(gold_run, st_starts) + rng.choice([500, 1000, 50_000, 5_000_000], players)
    st_len = np.diff(np.r_[st_starts, len(st_owner)])
    st_gold = np.repeat(gold0, st_len) + gold_run

    # -- inventory summaries per state: creation totals, then per-trade changes.
    per_state = len(owner)
    state_index = np.empty(per_state, dtype=np.int64)  # row in state_order of each state
    state_index[state_order] = np.arange(per_state)
    side = np.where(ch_player == p1[ch_trade], 0, 1)
    ch_state = state_index[players + 2 * ch_trade + side]
    cr_state = state_index[cr_player - 1]
    d_value = np.zeros(per_state, np.int64)
    d_held = np.zeros(per_state, np.int64)
    d_distinct = np.zeros(per_state, np.int64)
    np.add.at(d_value, cr_state, cr_qty * values[cr_item])
    np.add.at(d_held, cr_state, cr_qty)
    np.add.at(d_distinct, cr_state, 1)
    np.add.at(d_value, ch_state, ch_delta * values[ch_item])
    np.add.at(d_held, ch_state, ch_delta)
    np.add.at(d_distinct, ch_state, (after > 0).astype(np.int64) - (before > 0))

    counts["players"] = _write(
        lake,
        "players",
        {
            "player_id": pid,
            "username": _ids("player-", players, 1),
            "player_class": pa.array(np.full(players, "farmer")),
            "gold": gold0,
            "capacity": np.full(players, 999),
            "created_at": _ts(created),
            "event_id": _ids("p-", players),
            "event_date": _dates(created),
            "source": pa.array(np.full(players, "bench")),
            "position": pid,
        },
    )
    event_id = _ids("t-", trades)
    counts["trades"] = _write(
        lake,
        "trades",
        {
            "trade_id": trade_id,
            "executed_at": _ts(t),
            "player_1_id": p1,
            "player_2_id": p2,
            "player_1_gold": gold_1,
            "player_2_gold": gold_2,
            "player_1_items_value": value_1,
            "player_2_items_value": value_2,
            "item_lines": 1 + second.astype(np.int64),
            "event_id": event_id,
            "event_date": _dates(t),
            "source": pa.array(np.full(trades, "bench")),
            "position": trade_id,
        },
    )
    line_order = np.argsort(line_trade, kind="stable")  # lines of a trade together
    line_t = t[line_trade][line_order]
    counts["trade_items"] = _write(
        lake,
        "trade_items",
        {
            "trade_id": trade_id[line_trade][line_order],
            "executed_at": _ts(line_t),
            "item_id": line_item[line_order],
            "giver_id": line_giver[line_order],
            "receiver_id": line_receiver[line_order],
            "quantity": line_qty[line_order],
            "unit_value": values[line_item][line_order],
            "event_id": pc.take(event_id, pa.array(line_trade[line_order])),
            "event_date": _dates(line_t),
        },
    )

    rejected = trades // 20
    r_us = np.sort(rng.integers(T0_US + players, T0_US + DAYS_US, rejected))
    r_id = np.arange(trades + 1, trades + rejected + 1, dtype=np.int64)
    counts["rejected_trades"] = _write(
        lake,
        "rejected_trades",
        {
            "trade_id": r_id,
            "executed_at": _ts(r_us),
            "reason": pa.array(np.full(rejected, "insufficient_items")),
            "detail": pa.nulls(rejected, pa.string()),
            "player_1_id": rng.integers(1, players + 1, rejected),
            "player_2_id": rng.integers(1, players + 1, rejected),
            "player_1_gold": np.zeros(rejected, dtype=np.int64),
            "player_2_gold": np.zeros(rejected, dtype=np.int64),
            "event_id": _ids("r-", rejected),
            "event_date": _dates(r_us),
            "source": pa.array(np.full(rejected, "bench")),
            "position": r_id,
        },
    )

    s_t = np.r_[created, np.repeat(t, 2)][state_order]
    s_trade = np.r_[np.zeros(players, dtype=np.int64), np.repeat(trade_id, 2)][state_order]
    is_created = state_order < players
    s_event = pa.concat_arrays(
        [_ids("p-", players), pc.take(event_id, pa.array(np.repeat(np.arange(trades), 2)))]
    ).take(pa.array(state_order))
    counts["player_states"] = _write(
        lake,
        "player_states",
        {
            "player_id": st_owner,
            "version": version[state_order],
            "at": _ts(s_t),
            "gold": st_gold,
            "distinct_items": _running(d_distinct, st_starts),
            "items_value": _running(d_value, st_starts),
            "items_held": _running(d_held, st_starts),
            "cause": pa.array(np.where(is_created, "created", "trade")),
            "trade_id": pa.array(s_trade, mask=is_created),
            "event_id": s_event,
            "event_date": _dates(s_t),
        },
    )

    h_t = np.r_[created[cr_player - 1], t[ch_trade]]
    counts["holdings"] = _write(
        lake,
        "holdings",
        {
            "player_id": np.r_[cr_player, ch_player],
            "item_id": np.r_[cr_item, ch_item],
            "quantity": np.r_[cr_qty, after],
            "version": np.r_[np.ones(len(cr_player), np.int64), ch_version],
            "at": _ts(h_t),
            "event_id": pa.concat_arrays(
                [
                    _ids("p-", players).take(pa.array(cr_player - 1)),
                    pc.take(event_id, pa.array(ch_trade)),
                ]
            ),
            "event_date": _dates(h_t),
        },
    )
    return counts


def _timings(engine: Engine, options: AskOptions) -> dict[str, list[float]]:
    work: dict[str, Callable[[], Any]] = {
        qid: partial(q.answer, engine, options) for qid, q in QUESTIONS.items() if qid != "exploits"
    }
    for name, detect in DETECTORS.items():
        work[f"exploits/{name}"] = partial(detect, engine, options)
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
