"""Limits every connection lives under, enforced by the HTTP protocol (api/http.py).

A client that is slow, idle or oversized must not hold memory or a connection slot: each
case ends with a short JSON answer and a close, before the app sees a request.

- request head (request line + headers) over `max_header_bytes`: 431, close;
- a request head not complete `request_timeout` seconds after its first byte: 408, close;
- a request body not complete `request_timeout` seconds after its head: 408, close;
- a connection idle `keep_alive_timeout` seconds (fresh, or after an answer): close;
- more than `max_connections` open connections in one worker: the new one gets 503 with
  Retry-After and is closed at once.

Each worker process is given them once (`configure`, by bootstrap.py), from the same
settings as the app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson

log = logging.getLogger("bazaar.api.limits")


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int = 16 * 1024
    request_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 1000

    def check(self) -> None:
        if self.max_header_bytes < 1024:
            raise ValueError("--max-header-bytes must be at least 1024")
        if not self.request_timeout > 0 or not self.keep_alive_timeout > 0:
            raise ValueError("--request-timeout and --keep-alive-timeout must be above 0")
        if self.max_connections < 1:
            raise ValueError("--max-connections must be at least 1")


_current = HttpLimits()


def configure(limits: HttpLimits) -> None:
    global _current
    _current = limits


def current() -> HttpLimits:
    return _current


def refusal(status: int, phrase: str, reason: str, detail: str, retry_after: int = 0) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection (written by the protocol)."""
    body = orjson.dumps({"reason": reason, "detail": detail})
    head = [
        f"HTTP/1.1 {status} {phrase}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if retry_after:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


class DropCounts:
    """What this worker refused or lost at the HTTP layer (reported by /health)."""

    def __init__(self) -> None:
        self.headers_too_large = 0
        self.head_timeouts = 0
        self.body_timeouts = 0
        self.connections_refused = 0
        self.client_disconnects = 0

    def to_document(self) -> dict[str, int]:
        return {
            "headers_too_large": self.headers_too_large,
            "head_timeouts": self.head_timeouts,
            "body_timeouts": self.body_timeouts,
            "connections_refused": self.connections_refused,
            "client_disconnects": self.client_disconnects,
        }


drops = DropCounts()
