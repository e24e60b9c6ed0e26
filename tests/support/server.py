"""A real `bazaar serve` subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bazaar.cli.common import free_port


@contextmanager
def running_server(
    store_url: str,
    *,
    workers: int = 1,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[str]:
    """`log`: where the server's output goes (else a pipe nobody reads: keep it short)."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "bazaar",
        "serve",
        "--store",
        store_url,
        "--port",
        str(port),
        "--workers",
        str(workers),
        *(extra or []),
    ]
    sink = log.open("wb") if log is not None else subprocess.PIPE
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **(env or {})},
        stdout=sink,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else log.read_text()  # type: ignore[union-attr]
                raise RuntimeError(f"bazaar serve exited early:\n{out}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("bazaar serve did not become healthy in 30 s")
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if log is not None:
            sink.close()  # type: ignore[union-attr]
