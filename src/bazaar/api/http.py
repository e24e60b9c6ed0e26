"""uvicorn's httptools protocol, with each response's head and body sent in one write.

uvicorn writes the status line and headers when the app sends `http.response.start` and
the body when it sends `http.response.body`; uvloop puts each write on the socket at once.
So every answer cost two send() calls, two TCP segments and, on the client, two wake-ups:
measurable when one core serves thousands of small JSON answers a second. Here the head
waits, inside the same response cycle, for the first body write and leaves with it.

Everything else (parsing, keep-alive, flow control, errors, access log) is uvicorn's own.
`bazaar serve` passes this class as uvicorn's `http` protocol.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from bazaar.api.balance import ConnectionTable, worker_table


class _Recorder:
    """Stands in for the transport while uvicorn renders the head: keeps what it writes."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _HeadFirst:
    """Stands in for the transport while uvicorn writes the body: the held head goes out in
    the same write as the first body bytes."""

    def __init__(self, transport: Any, head: bytes) -> None:
        self.transport = transport
        self.head: bytes | None = head

    def write(self, data: bytes) -> None:
        if self.head is not None:
            data, self.head = self.head + data, None
        self.transport.write(data)

    def flush(self) -> None:
        if self.head is not None and not self.transport.is_closing():
            self.transport.write(self.head)
        self.head = None

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _OneWriteCycle(RequestResponseCycle):
    _head: bytes | None = None

    async def send(self, message: Any) -> None:
        transport = self.transport
        if message["type"] == "http.response.start" and not self.response_started:
            recorder = _Recorder(transport)
            self.transport = recorder  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            if recorder.written:
                self._head = b"".join(recorder.written)
            return
        head, self._head = self._head, None
        if head is None:
            await super().send(message)
            return
        writer = _HeadFirst(transport, head)
        self.transport = writer  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
            writer.flush()  # a HEAD answer or a refused body: the head still goes out
        # A head still held when the app ends needs no flush: uvicorn then closes the
        # connection (an app that started an answer and failed or never finished it).


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """Also counts this worker's connections for api/balance.py, and ends a keep-alive
    connection after its current answer while the worker holds more than its share."""

    _table: ConnectionTable | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        table = worker_table()
        if table is not None:
            table.opened()
            self._table = table

    def connection_lost(self, exc: Exception | None) -> None:
        table, self._table = self._table, None
        if table is not None:
            table.closed()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = _OneWriteCycle
        table = self._table
        # Only with no other request queued behind this one on the connection (pipelining).
        if table is not None and not self.pipeline and table.over_share():
            self.cycle.keep_alive = False  # "connection: close" on this answer, then close
            self._table = None
            table.closed()  # counted as gone now, so siblings' answers see the new split
