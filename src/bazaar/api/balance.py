"""Keep-alive connections spread evenly across `bazaar serve`'s worker processes.

uvicorn's workers race to accept() on one shared socket, and uvloop accepts every pending
connection in one go: a burst of clients (a load balancer's pool, wrk's 64 connections)
often lands 42/22 on two workers. The busy worker then queues, the other sends tiny
batches, and the whole server does ~20 % less than with an even split.

So each worker publishes how many connections it holds in a small table shared with its
siblings (one 8-byte slot per worker, in a file the supervisor creates), and a worker
holding clearly more than its share answers its next request with `Connection: close`.
The client reconnects (HTTP allows a server to end a keep-alive connection after any
complete answer; every HTTP client library reconnects), and the connection usually lands
on the less busy worker, whose accept() wakes first. No request is refused or retried.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from pathlib import Path

_SLOT = struct.Struct("q")
_FLOCK = struct.Struct("hhqqi4x")  # struct flock on 64-bit Linux
# Over its share by more than this (and a 1/8 margin), a worker sheds a connection.
_SLACK = 2


def create_table(workers: int) -> Path:
    """The supervisor's side: a zeroed table for `workers` workers (the caller removes it)."""
    path = Path("/dev/shm" if os.path.isdir("/dev/shm") else "/tmp") / (
        f"bazaar-connections-{os.getpid()}"
    )
    path.write_bytes(bytes(_SLOT.size * workers))
    return path


class ConnectionTable:
    """A worker's view of the table: its own slot (held by an fcntl lock for the process's
    life, so a restarted worker takes over a dead one's slot) and its siblings' counts."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR)
        size = os.fstat(self._fd).st_size
        self._slots = size // _SLOT.size
        self._map = mmap.mmap(self._fd, size)
        self._offset = -1
        for n in range(self._slots):
            # An open-file-description lock on the slot's bytes: held while this process
            # lives (or until close), and exclusive even between two opens in one process.
            claim = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, n * _SLOT.size, _SLOT.size, 0)
            try:
                fcntl.fcntl(self._fd, fcntl.F_OFD_SETLK, claim)
            except OSError:
                continue
            self._offset = n * _SLOT.size
            break
        self.held = 0
        self._publish()  # a restarted worker's slot starts from its own (zero) count

    @property
    def active(self) -> bool:
        return self._offset >= 0 and self._slots > 1

    def _publish(self) -> None:
        if self._offset >= 0:
            _SLOT.pack_into(self._map, self._offset, self.held)

    def opened(self) -> None:
        self.held += 1
        self._publish()

    def closed(self) -> None:
        self.held -= 1
        self._publish()

    def over_share(self) -> bool:
        """True when this worker holds clearly more connections than an even split gives."""
        if not self.active:
            return False
        total = sum(
            int(_SLOT.unpack_from(self._map, n * _SLOT.size)[0]) for n in range(self._slots)
        )
        share = total / self._slots
        return self.held > share + max(_SLACK, share / 8)


_table: ConnectionTable | None = None
_table_path: str | None = None


def use_table(path: str | None) -> None:
    """This worker's table is the supervisor's file at `path` (bootstrap.py passes
    settings.connection_table); None serves unbalanced."""
    global _table_path
    _table_path = path


def worker_table() -> ConnectionTable | None:
    """This worker's table, opened on first use; None when serving with one worker."""
    global _table, _table_path
    if _table is None:
        if not _table_path:
            return None
        try:
            _table = ConnectionTable(_table_path)
        except (OSError, ValueError):
            _table_path = None  # no table: serve unbalanced, as uvicorn does
            return None
    return _table
