"""HTTP trade throughput: N players, then random valid-ish trades at concurrency C.

Starts `bazaar serve` on a fresh store (or targets --api URL), creates players over HTTP,
then drives POST /trades with wrk (C, from Debian's `wrk`) when it is installed, else with
an aiohttp load generator (which shares the 2 cores with the server and reads lower).
Prints accepted trades/s and p50/p99 latency.

    python benchmarks/api_trades.py --store sqlite --workers 2 --duration 10
    python benchmarks/api_trades.py --store redis://127.0.0.1:6379/0 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import httpx

from bazaar.cli.common import free_port

LUA = """
local bodies = %(bodies)s
local n = #bodies
local i = 0
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  ok = 0; rejected = 0; other = 0
  i = tonumber(id) * 7919
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  i = i + 1
  return wrk.format(nil, "/trades", nil, bodies[(i %% n) + 1])
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 409 then rejected = rejected + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local a, r, o = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("ok"); r = r + t:get("rejected"); o = o + t:get("other")
  end
  io.write(string.format(
    "RESULT accepted=%%d rejected=%%d other=%%d seconds=%%f p50=%%f p99=%%f\\n",
    a, r, o, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def trade_bodies(players: list[dict], count: int, seed: int) -> list[str]:
    """One-for-one item swaps plus a little gold: keeps held counts level, so nearly all
    trades stay valid however long the run."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        a, b = rng.sample(players, 2)
        ia = rng.choice([i for i in a["items"] if i["quantity"] >= 50])["item_id"]
        ib = rng.choice([i for i in b["items"] if i["quantity"] >= 50])["item_id"]
        gold = rng.randint(0, 5)
        side_a = {"player_id": a["player_id"], "items": [{"item_id": ia, "quantity": 1}]}
        side_b = {"player_id": b["player_id"], "items": [{"item_id": ib, "quantity": 1}]}
        (side_a if rng.random() < 0.5 else side_b)["gold"] = gold
        bodies.append(json.dumps({"player_1": side_a, "player_2": side_b}))
    return bodies


def start_server(store: str, workers: int) -> tuple[subprocess.Popen[bytes], str, str | None]:
    tmp = None
    if store == "sqlite":
        tmp = tempfile.mkdtemp(prefix="bazaar-bench-")
        store = f"sqlite:///{tmp}/bench.db"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bazaar",
            "serve",
            "--store",
            store,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url, tmp
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def run_wrk(url: str, bodies: list[str], concurrency: int, duration: int) -> dict[str, float]:
    lua_bodies = "{" + ",".join("[==[" + b + "]==]" for b in bodies) + "}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % {"bodies": lua_bodies})
    out = subprocess.run(
        ["wrk", "-t2", f"-c{concurrency}", f"-d{duration}s", "-s", f.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)
    m = re.search(
        r"RESULT accepted=(\d+) rejected=(\d+) other=(\d+) seconds=([\d.]+) "
        r"p50=([\d.]+) p99=([\d.]+)",
        out,
    )
    if not m:
        raise SystemExit(f"could not parse wrk output:\n{out}")
    a, r, o, secs, p50, p99 = (float(x) for x in m.groups())
    return {"accepted": a, "rejected": r, "other": o, "seconds": secs, "p50_ms": p50, "p99_ms": p99}


async def run_python(
    url: str, bodies: list[str], concurrency: int, duration: int
) -> dict[str, float]:
    import aiohttp

    counts = {"accepted": 0, "rejected": 0, "other": 0}
    latencies: list[float] = []
    stop = time.perf_counter() + duration
    next_body = iter(range(10**12))

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < stop:
            body = bodies[next(next_body) % len(bodies)]
            t0 = time.perf_counter()
            async with session.post(
                f"{url}/trades", data=body, headers={"content-type": "application/json"}
            ) as resp:
                await resp.read()
                key = {200: "accepted", 409: "rejected"}.get(resp.status, "other")
            latencies.append(time.perf_counter() - t0)
            counts[key] += 1

    start = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    latencies.sort()
    return {
        **counts,
        "seconds": time.perf_counter() - start,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--store", default="sqlite", help="sqlite (fresh temp file) or a store URL")
    ap.add_argument("--api", help="target an already running API instead of starting one")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--players", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--driver", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    proc, tmp = None, None
    url = args.api
    if url is None:
        proc, url, tmp = start_server(args.store, args.workers)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            players = [client.post("/players", json={}).json() for _ in range(args.players)]
        bodies = trade_bodies(players, 20_000, args.seed)
        driver = args.driver
        if driver == "auto":
            driver = "wrk" if shutil.which("wrk") else "python"
        if driver == "wrk":
            result = run_wrk(url, bodies, args.concurrency, args.duration)
        else:
            result = asyncio.run(run_python(url, bodies, args.concurrency, args.duration))
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    rate = result["accepted"] / result["seconds"]
    print(f"store={args.store} workers={args.workers} c={args.concurrency} driver={driver}")
    print(
        f"accepted trades/s: {rate:,.0f}   rejected: {result['rejected']:.0f}   "
        f"errors/other: {result['other']:.0f}"
    )
    print(f"latency p50: {result['p50_ms']:.1f} ms   p99: {result['p99_ms']:.1f} ms")


if __name__ == "__main__":
    main()
