"""Each answer leaves the server in one piece: a client's first read holds the whole
response (head and body), while interim answers (100 Continue) are never held back."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import orjson
import pytest

from bazaar.api.embedded import EmbeddedServer
from bazaar.cli.common import free_port
from bazaar.domain.model import NewPlayer
from bazaar.store.base import Store


@pytest.fixture
def conn(store: Store) -> Iterator[socket.socket]:
    port = free_port()
    with EmbeddedServer(store, port), socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)
        yield sock


def _request(method: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
    kind = "Content-Type: application/json\r\n" if body else ""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n{kind}{extra}\r\n"
    )
    return head.encode() + body


def _one_read(sock: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """ONE recv: status line, headers and the body they announce must all be in it."""
    data = sock.recv(1 << 20)
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    assert len(body) == int(headers["content-length"]), f"answer split over reads: {data!r}"
    return status.encode(), headers, body


def _trade(store: Store) -> bytes:
    one = store.create_player(NewPlayer("farmer")).player_id
    two = store.create_player(NewPlayer("blacksmith")).player_id
    doc = {
        "player_1": {"player_id": one, "items": [{"item_id": 5, "quantity": 1}]},
        "player_2": {"player_id": two, "gold": 2},
    }
    return orjson.dumps(doc)


def test_answers_arrive_whole_on_a_kept_alive_connection(conn: socket.socket, store: Store) -> None:
    trade = _trade(store)
    for _ in range(3):
        conn.sendall(_request("POST", "/trades", trade))
        status, headers, body = _one_read(conn)
        assert status == b"HTTP/1.1 200 OK"
        assert headers["content-type"] == "application/json"
        assert orjson.loads(body)["status"] == "accepted"
    conn.sendall(_request("POST", "/trades", b'{"player_1": 1}'))
    status, _, body = _one_read(conn)
    assert status.startswith(b"HTTP/1.1 422") and orjson.loads(body)["reason"]
    conn.sendall(_request("GET", "/players/1"))
    assert _one_read(conn)[0] == b"HTTP/1.1 200 OK"


def test_a_head_answer_has_its_headers_and_no_body(conn: socket.socket) -> None:
    conn.sendall(_request("HEAD", "/docs"))
    data = conn.recv(1 << 20)
    assert data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n")
    conn.sendall(_request("GET", "/catalog"))
    assert _one_read(conn)[0] == b"HTTP/1.1 200 OK"  # the connection still serves


def test_100_continue_is_sent_before_the_body_arrives(conn: socket.socket, store: Store) -> None:
    trade = _trade(store)
    head = _request("POST", "/trades", trade, extra="Expect: 100-continue\r\n")
    conn.sendall(head[: -len(trade)])
    assert conn.recv(1 << 16) == b"HTTP/1.1 100 Continue\r\n\r\n"
    conn.sendall(trade)
    status, _, body = _one_read(conn)
    assert status == b"HTTP/1.1 200 OK" and orjson.loads(body)["status"] == "accepted"


def test_pipelined_requests_are_answered_in_order(conn: socket.socket, store: Store) -> None:
    trade = _trade(store)
    conn.sendall(_request("POST", "/trades", trade) + _request("GET", "/catalog"))
    data = b""
    while data.count(b"HTTP/1.1 200 OK") < 2 or not data.endswith(b"}"):
        data += conn.recv(1 << 20)
    first, second = data.split(b"HTTP/1.1 200 OK")[1:]
    assert b'"trade_id"' in first and b'"classes"' in second
