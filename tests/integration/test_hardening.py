"""A real `bazaar serve --workers 2`, on every store, tried as a careless or hostile client
would: odd ids, slow and oversized requests, wrong bodies, revoked keys and tokens."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.support.server import running_server

SERVER_KEY = "bzk_hardening-key"
OTHER_KEY = "bzk_hardening-other"
SERVER = {"Authorization": f"Bearer {SERVER_KEY}"}
FOOD = 5


@contextmanager
def _serve(
    store_url: str, tmp_path: Path, *flags: str, keys: list[str] | None = None
) -> Iterator[tuple[str, Path, Path]]:
    """(url, key file, log file) of a 2-worker server with auth on (unless keys is [])."""
    key_file = tmp_path / "keys.txt"
    extra = ["--log-level", "debug", *flags]
    if keys != []:
        key_file.write_text("\n".join(keys or [SERVER_KEY]) + "\n")
        extra += ["--api-key-file", str(key_file)]
    log = tmp_path / "serve.log"
    with running_server(store_url, workers=2, extra=extra, log=log) as url:
        yield url, key_file, log


def _player(url: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/players", json={"player_class": "farmer"}, headers=SERVER)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _within(seconds: float, check: Callable[[], bool]) -> float:
    """How long until check() held; fails past `seconds`."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - start


def _connect(url: str) -> socket.socket:
    parsed = urlparse(url)
    sock = socket.create_connection((parsed.hostname, parsed.port))
    sock.settimeout(10)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _no_tracebacks(log: Path) -> None:
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "unexpected error" not in text, text[-3000:]


def test_ids_are_ascii_digits_in_range(store_url: str, tmp_path: Path) -> None:
    with _serve(store_url, tmp_path) as (url, _, log):
        players = [_player(url) for _ in range(3)]
        assert players[2]["player_id"] == 3
        for path in ["/players/٣", "/players/３", "/players/²", "/trades/²", "/offers/①",
                     "/players/²/history", "/players/0", f"/players/{2**63}", "/trades/1e3",
                     "/players/+3", "/players/ 3"]:  # fmt: skip
            response = httpx.get(url + path, headers=SERVER)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["reason"].startswith("unknown_"), path
        accept = httpx.post(f"{url}/offers/²/accept", headers=SERVER)
        assert accept.status_code == 404
        for query in ["limit=²", "limit=٣", "limit=0", "limit=501", "limit=-1"]:
            response = httpx.get(f"{url}/players/3/history?{query}", headers=SERVER)
            assert response.status_code == 422 and response.json()["field"] == "limit", query
        assert httpx.get(f"{url}/offers?player_id=３", headers=SERVER).status_code == 422
        assert httpx.get(f"{url}/players/3", headers=SERVER).json()["player_id"] == 3
        _no_tracebacks(log)


def test_oversized_headers_answer_431_and_close(store_url: str, tmp_path: Path) -> None:
    with _serve(store_url, tmp_path) as (url, _, log):
        with _connect(url) as sock:
            sock.sendall(
                b"GET /catalog HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
            )
            answer = _read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 431 ") and b'"headers_too_large"' in answer
        # A 32 MB header is refused long before it is read: the server hangs up.
        with _connect(url) as sock:
            sent = 0
            with pytest.raises(OSError):
                sock.sendall(b"GET /catalog HTTP/1.1\r\nX-Big: ")
                for _ in range(32 * 16):
                    sock.sendall(b"a" * 65536)
                    sent += 65536
            assert sent < 8 * 1024 * 1024, "the server kept reading an oversized head"
        # Just under the limit is served.
        ok = httpx.get(f"{url}/catalog", headers={"X-Fill": "a" * 15_000})
        assert ok.status_code == 200
        _no_tracebacks(log)


def test_slow_and_idle_clients_are_dropped_within_the_deadline(
    store_url: str, tmp_path: Path
) -> None:
    flags = ("--request-timeout", "1", "--keep-alive-timeout", "1")
    with _serve(store_url, tmp_path, *flags) as (url, _, log):
        token = _player(url)["token"]
        body = b'{"to_player_id": 1}'
        cases = {
            "idle": b"",
            "half request line": b"GET /cata",
            "unfinished headers": b"GET /catalog HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n",
            "unfinished body": (
                b"POST /offers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + token.encode() + b"\r\n"
                b"Content-Length: 100\r\n\r\n" + body
            ),
        }
        socks = {}
        for name, data in cases.items():
            for i in range(50):  # many at once: none may pile up
                sock = _connect(url)
                sock.sendall(data)
                socks[(name, i)] = sock
        start = time.monotonic()
        answers = {key: _read_until_closed(sock) for key, sock in socks.items()}
        assert time.monotonic() - start < 4, "slow clients were not dropped within 1 s + slack"
        for (name, _), answer in answers.items():
            if name == "idle":
                assert answer == b""
            else:
                assert answer.startswith(b"HTTP/1.1 408 "), (name, answer)
        for sock in socks.values():
            sock.close()
        # A kept-alive connection left idle after an answer is closed too.
        with _connect(url) as sock:
            sock.sendall(b"GET /catalog HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.2)
            assert sock.recv(1 << 20).startswith(b"HTTP/1.1 200")
            idle = _within(3, lambda: sock.recv(1) == b"")
            assert idle < 3
        assert httpx.get(f"{url}/catalog").status_code == 200
        _no_tracebacks(log)
        # a body the client stopped sending is a client leaving, logged at debug only
        assert "client left during POST /offers" in log.read_text()


def test_a_worker_refuses_connections_past_its_cap(store_url: str, tmp_path: Path) -> None:
    flags = ("--max-connections", "4", "--keep-alive-timeout", "30")
    with _serve(store_url, tmp_path, *flags) as (url, _, log):
        held = [_connect(url) for _ in range(20)]  # at most 8 fit in two workers
        time.sleep(0.5)
        refused = 0
        for sock in held:
            sock.settimeout(0.3)
            try:
                answer = sock.recv(4096)
            except TimeoutError:
                continue
            assert answer.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in answer
            assert b'"too_many_connections"' in answer
            refused += 1
        assert refused >= 12
        for sock in held:
            sock.close()
        _within(5, lambda: httpx.get(f"{url}/catalog").status_code == 200)
        _no_tracebacks(log)


def test_bodies_must_be_json_without_duplicate_keys(store_url: str, tmp_path: Path) -> None:
    with _serve(store_url, tmp_path) as (url, _, log):
        a, b = _player(url), _player(url)
        trade = (
            f'{{"player_1": {{"player_id": {a["player_id"]}, "gold": 1}},'
            f' "player_2": {{"player_id": {b["player_id"]}}}}}'
        )
        for kind in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                     "application/json; charset=latin-1", None]:  # fmt: skip
            headers = dict(SERVER)
            if kind is not None:
                headers["Content-Type"] = kind
            response = httpx.post(f"{url}/trades", content=trade, headers=headers)
            assert response.status_code == 415, kind
            assert response.json()["reason"] == "unsupported_media_type"
        assert httpx.get(f"{url}/players/{a['player_id']}", headers=SERVER).json()["gold"] == 500
        headers = {**SERVER, "Content-Type": "application/json; charset=UTF-8"}
        assert httpx.post(f"{url}/trades", content=trade, headers=headers).status_code == 200
        twice = trade.replace('"gold": 1', '"gold": 1, "gold": 400')
        response = httpx.post(f"{url}/trades", content=twice, headers=headers)
        assert response.status_code == 422
        assert response.json()["reason"] == "duplicate_key" and response.json()["field"] == "gold"
        assert httpx.get(f"{url}/players/{a['player_id']}", headers=SERVER).json()["gold"] == 499
        _no_tracebacks(log)


def _status(url: str, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{url}/players", json={}, headers=headers).status_code


def _on_both_workers(url: str, key: str, status: int) -> bool:
    return all(_status(url, key) == status for _ in range(6))


def _after_a_reload(url: str, key: str, status: int) -> bool:
    """Each worker re-checks the file at most 1 s after its previous check: past that,
    every worker must answer `status` for `key`."""
    time.sleep(1.1)
    return _on_both_workers(url, key, status)


def test_server_keys_fail_closed_when_the_file_changes(store_url: str, tmp_path: Path) -> None:
    with _serve(store_url, tmp_path, keys=[SERVER_KEY, OTHER_KEY]) as (url, key_file, log):
        assert _status(url, SERVER_KEY) == _status(url, OTHER_KEY) == 201
        key_file.unlink()  # deleting the file revokes every key in it
        assert _after_a_reload(url, SERVER_KEY, 401)
        assert _status(url, OTHER_KEY) == 401
        key_file.write_text(f"{SERVER_KEY}\nnot a key line\nsha256:abc\n")
        assert _after_a_reload(url, SERVER_KEY, 201)
        assert _status(url, OTHER_KEY) == 401
        key_file.unlink()
        key_file.mkdir()  # unreadable as a file (chmod cannot stop root)
        assert _after_a_reload(url, SERVER_KEY, 401)
        key_file.rmdir()
        key_file.write_text(f"{OTHER_KEY}\n")
        assert _after_a_reload(url, OTHER_KEY, 201)
        assert _status(url, SERVER_KEY) == 401
        text = log.read_text()
        assert "line 2: malformed key" in text and "line 3: malformed key hash" in text
        assert "NO server key from it is valid" in text
        _no_tracebacks(log)


def test_revoking_a_players_tokens(store_url: str, tmp_path: Path) -> None:
    with _serve(store_url, tmp_path) as (url, _, log):
        a, b = _player(url), _player(url)
        second = httpx.post(f"{url}/players/{a['player_id']}/tokens", headers=SERVER).json()
        tokens = [a["token"], second["token"]]
        as_a = {"Authorization": f"Bearer {a['token']}"}
        as_b = {"Authorization": f"Bearer {b['token']}"}
        own = f"{url}/players/{a['player_id']}"
        assert all(httpx.get(own, headers=as_a).status_code == 200 for _ in range(4))
        assert httpx.delete(f"{own}/tokens", headers=as_b).status_code == 403
        assert httpx.delete(f"{own}/tokens", headers=as_a).status_code == 204
        for token in tokens:
            for _ in range(6):  # both workers
                headers = {"Authorization": f"Bearer {token}"}
                assert httpx.get(own, headers=headers).status_code == 401
        assert httpx.get(own, headers=SERVER).status_code == 200
        assert httpx.get(f"{url}/players/{b['player_id']}", headers=as_b).status_code == 200
        by_server = httpx.delete(f"{url}/players/{b['player_id']}/tokens", headers=SERVER)
        assert by_server.status_code == 204
        assert httpx.get(f"{url}/players/{b['player_id']}", headers=as_b).status_code == 401
        assert httpx.delete(f"{url}/players/999/tokens", headers=SERVER).status_code == 404
        _no_tracebacks(log)


def test_reads_are_private_with_auth_and_open_without(store_url: str, tmp_path: Path) -> None:
    with _serve(store_url, tmp_path) as (url, _, _log):
        a, b = _player(url), _player(url)
        as_a = {"Authorization": f"Bearer {a['token']}"}
        mine, theirs = a["player_id"], b["player_id"]
        assert httpx.get(f"{url}/players/{mine}", headers=as_a).status_code == 200
        assert httpx.get(f"{url}/players/{mine}").status_code == 401
        for path in (f"/players/{theirs}", f"/players/{theirs}/history",
                     f"/offers?player_id={theirs}"):  # fmt: skip
            assert httpx.get(url + path, headers=as_a).status_code == 403, path
        for public in ("/catalog", "/health", "/openapi.json", "/docs"):
            assert httpx.get(url + public).status_code == 200
    (tmp_path / "open").mkdir()
    with _serve(store_url, tmp_path / "open", keys=[]) as (url, _, log):
        assert httpx.get(f"{url}/players/1").status_code == 200  # open: no credential asked
        assert "WARNING: no API key configured" in log.read_text()


def test_failed_authentication_is_rate_limited_per_address(store_url: str, tmp_path: Path) -> None:
    with _serve(store_url, tmp_path, "--auth-failure-limit", "2/s:10") as (url, _, log):
        codes = []
        with httpx.Client() as client:
            for i in range(60):
                bad = {"Authorization": f"Bearer bzp_guess-{i}"}
                codes.append(client.get(f"{url}/players/1", headers=bad))
        statuses = [r.status_code for r in codes]
        assert set(statuses) == {401, 429} and statuses.count(401) <= 30
        limited = next(r for r in codes if r.status_code == 429)
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["reason"] == "rate_limited"
        _no_tracebacks(log)


def test_405_names_the_allowed_methods(store_url: str, tmp_path: Path) -> None:
    with _serve(store_url, tmp_path) as (url, _, _log):
        response = httpx.request("DELETE", f"{url}/offers", headers=SERVER)
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET, HEAD, POST"
        put = httpx.put(f"{url}/players/1/tokens", headers=SERVER)
        assert put.status_code == 405 and put.headers["Allow"] == "DELETE, POST"


def test_openapi_lists_every_answer_and_the_id_bounds() -> None:
    from bazaar.api.openapi import openapi_document

    doc = openapi_document()
    for path, operations in doc["paths"].items():
        for verb, operation in operations.items():
            codes = set(operation["responses"])
            assert {"408", "431", "503"} <= codes, (verb, path)
            if "security" in operation:
                assert {"401", "403", "429"} <= codes, (verb, path)
            if "requestBody" in operation:
                assert {"413", "415", "422"} <= codes, (verb, path)
            for param in operation.get("parameters", []):
                if param["name"].endswith("_id"):
                    assert param["schema"]["maximum"] == 2**63 - 1


def test_503_names_the_store_but_not_its_address(tmp_path: Path) -> None:
    from tests.support.redis_server import RedisServer

    redis = RedisServer(tmp_path / "redis")
    try:
        with _serve(redis.url(), tmp_path) as (url, _, log):
            redis.stop()
            response = httpx.get(f"{url}/players/1", headers=SERVER)
            assert response.status_code == 503
            body = response.json()
            assert body["reason"] == "store_unavailable"
            port = str(urlparse(redis.url()).port)
            assert port not in response.text and "127.0.0.1" not in response.text
            assert "redis" not in body["detail"].lower()
            assert port in log.read_text(), "the cause goes to the log"
    finally:
        redis.stop()
        shutil.rmtree(tmp_path / "redis", ignore_errors=True)
