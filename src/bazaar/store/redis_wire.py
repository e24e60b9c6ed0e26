"""The trade script's round trip from the event loop itself: EVALSHA over one asyncio
connection, replies parsed by hiredis.

Why: through the thread pool and sync redis-py, each batch paid a thread hand-off (and the
GIL ping-pong that comes with it) plus redis-py's command machinery; a lightly loaded API
worker sending small batches spent ~265 us per trade against ~150 on a busy one. Here a
batch is one write on the loop's socket and one callback when the reply arrives.

Several batches may be in flight on the one connection (pipelined): Redis answers in the
order it received them, and still runs each script as one atomic step, one after another.

Failures keep the sync client's rules (store/redis.py): a connection error, a timeout or an
error reply is StoreUnavailable, and nothing is ever re-sent; a timed-out script may still
run when Redis resumes. On a timeout or a lost connection every batch in flight on it fails
and the connection is dropped (later replies could no longer be matched); the next batch
opens a new one. The one exception is NOSCRIPT (the script cache was flushed, e.g. Redis
restarted): Redis ran nothing, so the batch is sent once more with the script's text.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis

from bazaar.domain.errors import StoreUnavailable

Arg = bytes | str | int


def pack(args: Sequence[Arg]) -> bytes:
    """One command in RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    """One Redis connection: commands written in order, replies handed to waiters in order."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._reader = hiredis.Reader()
        self._waiting: deque[tuple[asyncio.Future[Any], asyncio.TimerHandle]] = deque()
        self._transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport has the Transport methods without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while self._waiting:
            reply = self._reader.gets()
            if reply is False:
                return
            future, timer = self._waiting.popleft()
            timer.cancel()
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc or 'closed by redis'}")

    def _fail(self, why: str) -> None:
        self.lost = True
        if self._transport is not None:
            self._transport.abort()
        while self._waiting:
            future, timer = self._waiting.popleft()
            timer.cancel()
            if not future.done():
                future.set_exception(StoreUnavailable(f"redis unreachable: {why}"))

    def request(self, command: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self.lost or self._transport is None:
            future.set_exception(StoreUnavailable("redis unreachable: connection lost"))
            return future
        timer = loop.call_later(self._timeout, self._fail, f"no reply in {self._timeout} s")
        self._waiting.append((future, timer))
        self._transport.write(command)
        return future

    def close(self) -> None:
        self.lost = True
        if self._transport is not None:
            self._transport.close()


class ScriptCaller:
    """Runs one registered Lua script from the event loop of the caller (one connection per
    loop, opened on first use and after a failure)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        db: int,
        username: str | None,
        password: str | None,
        sha: str,
        script: str,
        timeout: float,
    ) -> None:
        self._address = (host, port)
        self._login: list[bytes] = []
        if password is not None:
            auth: list[Arg] = ["AUTH", *([username] if username else []), password]
            self._login.append(pack(auth))
        if db:
            self._login.append(pack(["SELECT", db]))
        self._sha = sha
        self._script = script
        self._timeout = timeout
        self._connection: _Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Future[_Connection] | None = None

    async def _connected(self) -> _Connection:
        loop = asyncio.get_running_loop()
        held = self._connection
        if held is not None and not held.lost and self._loop is loop:
            return held
        if self._connecting is not None and self._loop is loop:
            return await asyncio.shield(self._connecting)  # one connect for concurrent batches
        self._loop = loop
        self._connecting = loop.create_future()
        try:
            connection = await self._open(loop)
        except BaseException as exc:
            self._connecting.set_exception(exc)
            self._connecting.exception()  # retrieved: no "never retrieved" warning
            self._connecting = None
            raise
        self._connection = connection
        self._connecting.set_result(connection)
        self._connecting = None
        return connection

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self._timeout), *self._address),
                self._timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"redis unreachable: {exc or 'connect timed out'}") from exc
        for command in self._login:
            reply = await connection.request(command)
            if isinstance(reply, hiredis.ReplyError):
                connection.close()
                raise StoreUnavailable(f"redis refused the connection: {reply}")
        return connection

    async def __call__(self, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        connection = await self._connected()
        tail = [len(keys), *keys, *args]
        reply = await connection.request(pack(["EVALSHA", self._sha, *tail]))
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
            connection = await self._connected()
            reply = await connection.request(pack(["EVAL", self._script, *tail]))
        if isinstance(reply, hiredis.ReplyError):  # OOM, READONLY, LOADING, BUSY, ...
            raise StoreUnavailable(f"redis refused execute_trades: {reply}")
        return reply

    def close(self) -> None:
        if self._connection is not None:
            loop = self._loop
            connection, self._connection = self._connection, None
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(connection.close)
