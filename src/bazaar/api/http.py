"""uvicorn's httptools protocol, with each response's head and body sent in one write.

uvicorn writes the status line and headers when the app sends `http.response.start` and
the body when it sends `http.response.body`; uvloop puts each write on the socket at once.
So every answer cost two send() calls, two TCP segments and, on the client, two wake-ups:
measurable when one core serves thousands of small JSON answers a second. Here the head
waits, inside the same response cycle, for the first body write and leaves with it.

The same protocol enforces the connection limits of api/limits.py (head size, head and body
deadlines, idle connections, connections per worker) before the app sees a request.
Everything else (parsing, keep-alive, flow control, access log) is uvicorn's own.
`bazaar serve` passes this class as uvicorn's `http` protocol.
"""

from __future__ import annotations

import logging
from asyncio import TimerHandle
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from bazaar.api.balance import ConnectionTable, worker_table
from bazaar.api.limits import HttpLimits, drops, refusal
from bazaar.api.limits import current as current_limits

log = logging.getLogger("bazaar.api.http")


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


_IDLE, _HEAD, _BODY = 0, 1, 2


class _HeadTooLarge(Exception):
    """Raised from a parser callback: stops httptools mid-head (it wraps it in
    HttpParserCallbackError)."""


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """Also enforces api/limits.py (head size, head and body deadlines, idle connections,
    connections per worker), counts this worker's connections for api/balance.py, and ends
    a keep-alive connection after its current answer while the worker holds more than its
    share.

    Deadlines cost nothing on the usual request, which arrives whole in one read: a timer
    is armed only when a read ends with a request head or body still incomplete."""

    _table: ConnectionTable | None = None
    _phase = _IDLE
    _serial = 0  # bumped at each phase change: a timer belongs to one phase of one request
    _armed_serial = 0
    _deadline: TimerHandle | None = None
    _head_bytes = 0
    _unfinished_head = 0  # bytes read while a request head stayed incomplete
    _too_large = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = current_limits()
        self.timeout_keep_alive = self._limits.keep_alive_timeout  # type: ignore[assignment]

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            drops.connections_refused += 1
            log.debug("refused a connection: %d open in this worker", len(self.connections))
            transport.write(_busy_answer(self._limits))
            transport.close()
            return
        table = worker_table()
        if table is not None:
            table.opened()
            self._table = table
        # A connection that never sends a byte is idle from the start (uvicorn arms this
        # timer only after an answer).
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        table, self._table = self._table, None
        if table is not None:
            table.closed()
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, with two differences: an oversized head answers 431 (not 400), and
        # a read that leaves a request incomplete arms that request's deadline.
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            if not self._too_large:
                raise
            drops.headers_too_large += 1
            log.debug("refused a request head over %d bytes", self._limits.max_header_bytes)
            self._refuse(_HEAD, _head_too_large_answer(self._limits))
            return
        except httptools.HttpParserError:
            self.logger.debug("invalid HTTP request received")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
            return
        if self._phase == _HEAD:
            # httptools holds an unfinished header line without calling back: count what
            # it holds, or a header that never ends grows without bound.
            self._unfinished_head += len(data)
            if self._unfinished_head > self._limits.max_header_bytes:
                drops.headers_too_large += 1
                log.debug("refused a request head over %d bytes", self._limits.max_header_bytes)
                self._refuse(_HEAD, _head_too_large_answer(self._limits))
                return
        elif self._unfinished_head:
            self._unfinished_head = 0
        if self._serial != self._armed_serial:
            self._armed_serial = self._serial
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            if self._phase != _IDLE:
                self._deadline = self.loop.call_later(
                    self._limits.request_timeout, self._on_deadline, self._phase
                )

    def _on_deadline(self, phase: int) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if phase == _HEAD:
            drops.head_timeouts += 1
        else:
            drops.body_timeouts += 1
        what = "head" if phase == _HEAD else "body"
        log.debug("dropped a request whose %s took over %gs", what, self._limits.request_timeout)
        self._refuse(phase, _timeout_answer(self._limits, what))

    def _refuse(self, phase: int, answer: bytes) -> None:
        cycle = self.cycle
        # Answer only when no other answer is under way on this connection (a pipelined
        # request behind a running one, or a body the app already answered): then just close.
        if phase == _HEAD:
            quiet = cycle is None or cycle.response_complete
        else:
            quiet = cycle is not None and not cycle.response_started
        if quiet:
            self.transport.write(answer)
        self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._phase = _HEAD
        self._serial += 1

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self._limits.max_header_bytes:
            self._too_large = True
            raise _HeadTooLarge
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._head_bytes > self._limits.max_header_bytes:
            self._too_large = True
            raise _HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._phase = _BODY
        self._serial += 1
        super().on_headers_complete()
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = _OneWriteCycle
        table = self._table
        # Only with no other request queued behind this one on the connection (pipelining).
        if table is not None and not self.pipeline and table.over_share():
            self.cycle.keep_alive = False  # "connection: close" on this answer, then close
            self._table = None
            table.closed()  # counted as gone now, so siblings' answers see the new split

    def on_message_complete(self) -> None:
        self._phase = _IDLE
        self._serial += 1
        super().on_message_complete()


def _busy_answer(limits: HttpLimits) -> bytes:
    return refusal(
        503,
        "Service Unavailable",
        "too_many_connections",
        f"this worker holds its maximum of {limits.max_connections} connections; retry",
        retry_after=1,
    )


def _head_too_large_answer(limits: HttpLimits) -> bytes:
    return refusal(
        431,
        "Request Header Fields Too Large",
        "headers_too_large",
        f"request line and headers over {limits.max_header_bytes} bytes",
    )


def _timeout_answer(limits: HttpLimits, what: str) -> bytes:
    return refusal(
        408,
        "Request Timeout",
        "request_timeout",
        f"the request {what} did not arrive within {limits.request_timeout:g} s",
    )
