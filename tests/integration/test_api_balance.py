"""`bazaar serve --workers 2` spreads keep-alive connections evenly over its workers
(api/balance.py): a burst of clients ends up split about half and half, every request is
answered, and the shared table is gone when the server stops."""

from __future__ import annotations

import http.client
import os
import re
from pathlib import Path

from bazaar.api.balance import ConnectionTable, create_table
from tests.support.server import running_server


def _established_by_worker(port: int) -> dict[int, int]:
    """Per worker pid: how many established connections to `port` it holds (from /proc)."""
    inodes: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01":
            inodes.add(fields[9])
    counts: dict[int, int] = {}
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            cmdline = (pid_dir / "cmdline").read_bytes()
            if b"bazaar" not in cmdline and b"multiprocessing" not in cmdline:
                continue
            links = [os.readlink(fd) for fd in (pid_dir / "fd").iterdir()]
        except OSError:
            continue
        held = sum(1 for link in links if re.fullmatch(r"socket:\[(\d+)\]", link)
                   and link[8:-1] in inodes)  # fmt: skip
        if held:
            counts[int(pid_dir.name)] = held
    return counts


def test_a_burst_of_keep_alive_clients_is_split_evenly(tmp_path: Path) -> None:
    with running_server(f"sqlite:///{tmp_path}/b.db", workers=2) as api:
        port = int(api.rsplit(":", 1)[1])
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(40)]
        statuses: list[int] = []
        for _ in range(40):  # rounds: a shed connection reopens on its client's next request
            for client in clients:
                client.request("GET", "/catalog")
                response = client.getresponse()
                response.read()
                statuses.append(response.status)
        split = _established_by_worker(port)
        # A client whose last answer said "Connection: close" holds nothing until its next
        # request; every other client holds exactly one connection to one of the workers.
        holding = sum(1 for client in clients if client.sock is not None)
        for client in clients:
            client.close()
    assert set(statuses) == {200}
    # (a worker may not yet have closed the socket of an answer it just shed)
    assert holding >= 30 and holding <= sum(split.values()) <= 40, (holding, split)
    assert len(split) == 2 and min(split.values()) >= 0.4 * holding, f"uneven split: {split}"


def test_a_worker_over_its_share_knows_it() -> None:
    path = create_table(2)
    try:
        busy, light = ConnectionTable(str(path)), ConnectionTable(str(path))
        for _ in range(10):
            busy.opened()
            light.opened()
        assert not busy.over_share() and not light.over_share()
        for _ in range(6):
            busy.opened()
        assert busy.over_share() and not light.over_share()
        busy.closed()
        busy.closed()
        assert not busy.over_share(), "within the slack: no churn for a near-even split"
        third = ConnectionTable(str(path))
        assert not third.active, "no free slot: that worker simply does not balance"
        assert not third.over_share()
    finally:
        path.unlink()
