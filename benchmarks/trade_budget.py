"""Where an in-process trade's CPU goes, stage by stage, and what that allows on N cores.

The in-process simulator (`bazaar simulate --in-process`) runs two processes: one plans,
one runs `Store.execute_trades` on SQLite. Its ceiling is set by the CPU each trade costs
in total and in its busiest process. This replays one plan through each stage on its own,
single-threaded, and reports microseconds per trade (median of --runs):

  plan            TradePlanner: behaviour, exploiters, the model of holdings
  requests        the store's TradeRequest of each planned trade
  rules           domain.trading.execute_trade on in-memory states
  outcome JSON    the trade's stored outcome document (sqlite_batch.outcome_json)
  event JSON      the trade's outbox row (sqlite_batch.trade_outbox_row)
  store           Store.execute_trades in batches, all of it (rules + rendering + SQL)
  SQL alone       the same rows, already rendered, written by executemany + COMMIT
  JSON alone      orjson.dumps of the same two documents already built as dicts (part
                  of the two JSON stages above, shown apart)

"SQL alone" and "JSON alone" are work done in C whatever the Python around them costs:
their sum is the floor of the store process. The last lines give the trades/s ceiling
if the stages could be spread perfectly over N cores.

    .venv/bin/python benchmarks/trade_budget.py
    .venv/bin/python benchmarks/trade_budget.py --trades 50000 --runs 5 --cores 2
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bazaar.domain.catalog import Catalog, load_catalog
from bazaar.domain.events import envelope, trade_payload
from bazaar.domain.model import NewPlayer, PlayerState, TradeRequest
from bazaar.domain.trading import Accepted, execute_trade
from bazaar.simulate.plan import PlannedTrade, SimulationPlan, TradeRequests
from bazaar.simulate.planner import TradePlanner
from bazaar.store.sqlite import SQLiteStore
from bazaar.store.sqlite_batch import (
    OUTBOX_INSERT,
    TRADE_INSERT,
    outcome_json,
    trade_outbox_row,
)
from bazaar.store.sqlite_transaction import PLAYER_SAVE

BATCH = 1000
INSTANT = "2026-11-29T12:00:00.000000Z"
EVENT_ID = "00000000-0000-4000-8000-000000000000"


def _timed(work: Callable[[], Any], *, collector: bool = False) -> tuple[float, Any]:
    """Seconds `work` takes. Planning and requests keep every result alive (the simulator
    drops them batch by batch), so there the cyclic collector would rescan a growing heap
    and charge it to the stage: it is off unless `collector`."""
    gc.collect()
    if not collector:
        gc.disable()
    try:
        began = time.perf_counter()
        result = work()
        return time.perf_counter() - began, result
    finally:
        gc.enable()


def _trade_path(
    catalog: Catalog, requests: list[TradeRequest], states: dict[int, PlayerState]
) -> dict[str, float]:
    """Rules, outcome JSON and event JSON one trade at a time, as the store runs them (a
    trade's objects are still in cache when it is rendered), each stage clocked apart."""
    clock = time.perf_counter
    rules = outcome = event = dumps = 0.0
    for n, request in enumerate(requests, 1):
        one, two = request.player_1.player_id, request.player_2.player_id
        t0 = clock()
        result = execute_trade(
            catalog, request, states[one], states[two], trade_id=n, executed_at=INSTANT
        )
        t1 = clock()
        outcome_json(result)
        t2 = clock()
        trade_outbox_row(catalog, result, EVENT_ID)
        t3 = clock()
        document = result.to_document()
        kind, payload = trade_payload(catalog, result)
        event_document = envelope(EVENT_ID, kind, INSTANT, payload)
        t4 = clock()
        orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
        orjson.dumps(event_document)
        t5 = clock()
        rules += t1 - t0
        outcome += t2 - t1
        event += t3 - t2
        dumps += t5 - t4
        if isinstance(result, Accepted):
            states[one], states[two] = result.player_1, result.player_2
    # `dumps` is inside the two JSON stages: shown apart, not added to them.
    return {"rules": rules, "outcome JSON": outcome, "event JSON": event, "JSON alone": dumps}


def _write_rows(catalog: Catalog, source: Path, target: Path) -> float:
    """Replays the trade rows `source` holds into a fresh store file, batch by batch, with
    the player rows each batch changed: SQLite's own cost for the same records."""
    with sqlite3.connect(source) as src:
        trades = src.execute("SELECT trade_id, status, executed_at, outcome FROM trades").fetchall()
        events = src.execute(
            "SELECT event_id, event_type, occurred_at, key, body FROM outbox"
            " WHERE event_type LIKE 'trade_%' ORDER BY seq"
        ).fetchall()
        players = {
            pid: (gold, items, version)
            for pid, gold, items, version in src.execute(
                "SELECT player_id, gold, items, version FROM players"
            )
        }
    touched = [sorted({doc["player_1"]["player_id"], doc["player_2"]["player_id"]})
               for doc in (orjson.loads(t[3])["request"] for t in trades)]  # fmt: skip
    SQLiteStore(target, catalog).close()  # the store's own schema
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executemany(
        "INSERT INTO players (player_id, username, player_class, gold, items, capacity,"
        " version, created_at) VALUES (?, 'resident', 'farmer', ?, ?, 999, ?, ?)",
        [(pid, gold, items, version, INSTANT) for pid, (gold, items, version) in players.items()],
    )
    began = time.perf_counter()
    for at in range(0, len(trades), BATCH):
        changed = {pid for pair in touched[at : at + BATCH] for pid in pair}
        db.execute("BEGIN IMMEDIATE")
        db.executemany(TRADE_INSERT, trades[at : at + BATCH])
        db.executemany(PLAYER_SAVE, [(*players[pid], 0, b"{}", pid) for pid in changed])
        db.executemany(OUTBOX_INSERT, events[at : at + BATCH])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - began
    db.close()
    return elapsed


def one_run(players: int, trades: int, seed: int) -> dict[str, float]:
    catalog = load_catalog()
    plan = SimulationPlan(players=players, trades=trades, seed=seed, exploiters=2)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bazaar-budget-") as tmp:
        store = SQLiteStore(Path(tmp) / "store.db", catalog)
        planner = TradePlanner(catalog, plan)
        planner.snapshots = False  # as in the two-process driver
        residents = planner.residents
        ids = [store.create_player(NewPlayer(r.player_class, r.username)).player_id
               for r in residents]  # fmt: skip
        seconds["plan"], planned = _timed(lambda: list(planner))
        build = TradeRequests(ids)

        def requests_of(chunk: list[PlannedTrade]) -> list[TradeRequest]:
            return [build(t.one, t.two, t.lines_1, t.gold_1, t.lines_2, t.gold_2) for t in chunk]

        seconds["requests"], requests = _timed(lambda: requests_of(planned))
        states = {p.player_id: p for p in store.players()}
        seconds.update(_timed(lambda: _trade_path(catalog, requests, states), collector=True)[1])

        def run_store() -> None:
            for at in range(0, len(requests), BATCH):
                store.execute_trades([(r, None) for r in requests[at : at + BATCH]])

        seconds["store"], _ = _timed(run_store, collector=True)  # as the simulator runs it
        store.close()
        seconds["SQL alone"] = _write_rows(catalog, Path(tmp) / "store.db", Path(tmp) / "copy.db")
    return {stage: s / len(planned) * 1e6 for stage, s in seconds.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--players", type=int, default=1000)
    ap.add_argument("--trades", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cores", type=int, default=2, help="cores for the ceiling lines")
    args = ap.parse_args()
    runs = []
    for n in range(1, args.runs + 1):
        runs.append(one_run(args.players, args.trades, seed=n))
        print(f"run {n}: " + ", ".join(f"{k} {v:.1f}" for k, v in runs[-1].items()), flush=True)
    us = {stage: statistics.median(r[stage] for r in runs) for stage in runs[0]}
    print(f"\nus per trade, median of {args.runs} ({args.players} players, {args.trades:,} trades)")
    for stage, value in us.items():
        print(f"  {stage:<13} {value:6.1f}")
    total = us["plan"] + us["requests"] + us["store"]
    floor = us["SQL alone"] + us["JSON alone"]
    print(
        f"\n  plan + requests + store      {total:6.1f} us a trade: at most"
        f" {args.cores * 1e6 / total:,.0f} trades/s on {args.cores} cores, perfectly spread"
    )
    print(
        f"  store process, C work only   {floor:6.1f} us a trade: at most"
        f" {1e6 / floor:,.0f} trades/s for the store process with no Python at all"
    )
    print(
        f"  plan + C floor               {us['plan'] + floor:6.1f} us a trade: at most"
        f" {args.cores * 1e6 / (us['plan'] + floor):,.0f} trades/s on {args.cores} cores"
    )


if __name__ == "__main__":
    main()
