"""The SQLite database a store's parts share: one connection per thread and per process,
writers queued in the kernel before SQLite's lock, and write transactions handed out as
units of work (SQLiteTransaction). Each part of SQLiteStore (outbox, retention, offers,
economy) and the store itself reach SQLite only through `store.db`, one SQLiteDatabase."""

from __future__ import annotations

import itertools
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - Windows has no flock; SQLite's own lock still serialises writers
    fcntl = None

from bazaar.domain.errors import StoreUnavailable
from bazaar.store.sqlite_transaction import PlayerCache, SQLiteTransaction


class SQLiteDatabase:
    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = path
        self._synchronous = synchronous
        self._local = threading.local()
        self._ops = itertools.count(1)
        self._thread_turn = threading.Lock()
        self._lock_fd: int | None = None
        self._lock_pid = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def connection(self) -> sqlite3.Connection:
        # One connection per thread and per process: sqlite3 connections must not cross
        # threads, and a connection inherited through fork() must never be used.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            try:
                conn = sqlite3.connect(
                    self.path, timeout=60.0, isolation_level=None, check_same_thread=False
                )
                if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
                    # A new file: let the retention sweep give freed pages back to the file
                    # system (sqlite_retention.py). Only possible before the first table,
                    # and before WAL mode writes the header.
                    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                conn.execute("PRAGMA journal_mode=WAL")
                # The WAL file shrinks back to this after checkpoints instead of keeping
                # its largest size for ever.
                conn.execute("PRAGMA journal_size_limit=67108864")
                conn.execute(f"PRAGMA synchronous={self._synchronous}")
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
            self._local.conn = conn
            self._local.pid = os.getpid()
            self._local.cache = PlayerCache()
        return conn

    def cache(self) -> PlayerCache:
        cache: PlayerCache = self._local.cache  # set with the connection by connection()
        return cache

    def _writer_lock_fd(self) -> int:
        if self._lock_fd is None or self._lock_pid != os.getpid():
            self._lock_fd = os.open(f"{self.path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
            self._lock_pid = os.getpid()
        return self._lock_fd

    @contextmanager
    def writer_turn(self) -> Iterator[None]:
        """Queue writers in the kernel before they reach SQLite's lock.

        SQLite's busy handler polls with sleeps of 1 ms growing to 100 ms, which turns two
        processes contending for the write lock into long latency tails. A blocking flock()
        wakes the next writer the moment the lock is free. SQLite's own lock still provides
        correctness; this only orders the queue (and is skipped where flock is missing).
        """
        with self._thread_turn:
            if fcntl is None:
                yield
                return
            fd = self._writer_lock_fd()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    @contextmanager
    def transaction(self, idempotency_ttl: int) -> Iterator[SQLiteTransaction]:
        """A write transaction as a unit of work (the trade path, offers, new players)."""
        with self.write() as db:
            yield SQLiteTransaction(db, self.cache(), idempotency_ttl, self._ops)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self.writer_turn():
            db = self.connection()
            cache = self.cache()
            try:
                db.execute("BEGIN IMMEDIATE")
                cache.begin(db)
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreUnavailable(f"database busy or unavailable: {exc}") from exc
            try:
                yield db
                db.execute("COMMIT")
                cache.committed()
            except BaseException as exc:
                cache.discard()
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreUnavailable(f"store write failed: {exc}") from exc
                raise

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        try:
            return self.connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"store read failed: {exc}") from exc

    def close(self) -> None:
        """This thread's connection and this process's writer lock file."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._lock_fd is not None and self._lock_pid == os.getpid():
            os.close(self._lock_fd)
            self._lock_fd = None
