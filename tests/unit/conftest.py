"""Unit tests are pure: no files, SQLite, sockets or processes. This conftest makes that a
rule the suite enforces rather than a habit: asking for `tmp_path`, opening a SQLite
database, connecting a socket or starting a process fails the test with a pointer to
tests/integration, where the real things are used."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from typing import Any, NoReturn

import pytest

WHERE = "unit tests are pure (no files, SQLite, sockets or processes): move it to tests/integration"


def _refuse(what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError(f"{what}: {WHERE}")

    return refuse


@pytest.fixture
def tmp_path() -> NoReturn:
    raise AssertionError(f"tmp_path: {WHERE}")


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite3, "connect", _refuse("sqlite3.connect"))
    monkeypatch.setattr(socket.socket, "connect", _refuse("socket.connect"))
    monkeypatch.setattr(socket, "create_connection", _refuse("socket.create_connection"))
    monkeypatch.setattr(subprocess, "Popen", _refuse("subprocess.Popen"))
