"""A consistent read of the lake: every table as of the same source position.

Ingest commits a batch table by table (docs/LAKE.md, "Exactly once"), so a reader can catch
the lake between two commits of one batch (a live follower), or after a failure left
`trades` a batch or more ahead of `holdings` (a full disk). Read naively, "how many
trades" and "who held the most" would then describe different moments.

The watermark is, per source (`outbox`, `kafka:TOPIC:P`), the lowest position every table
read has reached: the minimum over tables of the Delta app-transaction version
`{source}:{table}`. Not every table has a position column (`trade_items`, `player_states`,
`holdings` do not), so rows cannot be filtered by position; instead each table is read at
its newest Delta version whose app-transaction versions are all at or below the watermark.
A table's versions only grow with its Delta versions (the writer never moves them back), so
that version is found by stepping back from the newest and bisecting (a few log loads,
~3 ms each). The table then holds exactly the events up to its version there, which may be
below the watermark when a rerun cut batches differently; the watermark is lowered to it
and the search repeated until every table stands at the same positions.

Commits without app transactions (compaction, rows appended by hand) keep a table's
positions, so they are part of whichever version is chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from bazaar.domain.errors import LakeUnavailable
from bazaar.lake.batch import app_id, table_uri

Positions = dict[str, int]  # source -> position (-1: nothing of that source)
_NOTHING = -1


@dataclass(slots=True)
class LakeSnapshot:
    """The tables to read (None: the table does not exist) and the positions they share."""

    tables: dict[str, DeltaTable | None]
    positions: Positions  # the watermark; empty when the tables carry no source positions
    newest: dict[str, Positions] = field(default_factory=dict)  # what each table has reached

    @property
    def behind(self) -> dict[str, Positions]:
        """Tables whose newest commits are beyond the watermark, with their positions."""
        return {
            t: reached
            for t, reached in self.newest.items()
            if any(reached.get(s, _NOTHING) > p for s, p in self.positions.items())
        }

    def describe(self) -> str:
        """E.g. "lake as of event position 12,000 (all tables)"."""
        if not self.positions:
            return "lake positions unknown (its tables carry no source positions)"
        return f"lake as of event {_positions_text(self.positions)} (all tables)"

    def warning(self) -> str | None:
        """E.g. "tables differ: trades at 12,000, holdings at 11,500; answering as of
        11,500"; None when every table stands at the watermark."""
        if not self.behind:
            return None
        groups: dict[str, list[str]] = {}  # tables at the same positions, highest first
        for table, reached in self.newest.items():
            groups.setdefault(_positions_text(reached, bare=True), []).append(table)
        order = sorted(groups, key=lambda k: -max(self.newest[groups[k][0]].values()))
        parts = "; ".join(f"{', '.join(groups[k])} at {k}" for k in order)
        mark = _positions_text(self.positions, bare=True)
        return f"tables differ: {parts}; answering as of {mark}"

    def to_json(self) -> dict[str, Any]:
        single = next(iter(self.positions.values())) if len(self.positions) == 1 else None
        return {
            "position": single,  # the watermark, when the lake has one source
            "positions": dict(self.positions),
            "tables": {t: dict(p) for t, p in self.newest.items()},
            "consistent": not self.behind,
            "warning": self.warning(),
        }


def _positions_text(positions: Mapping[str, int], *, bare: bool = False) -> str:
    def number(p: int) -> str:
        return f"{p:,}" if p >= 0 else "nothing"

    if len(positions) == 1:
        value = number(next(iter(positions.values())))
        return value if bare else f"position {value}"
    listed = ", ".join(f"{s} {number(p)}" for s, p in sorted(positions.items()))
    return listed if bare else f"positions {listed}"


def open_snapshot(
    root: str,
    tables: Sequence[str],
    *,
    storage_options: Mapping[str, str] | None = None,
) -> LakeSnapshot:
    """Every table of `tables` at the lake's watermark (see the module docstring)."""
    opts = dict(storage_options or {}) or None

    def load(table: str, version: int | None = None) -> DeltaTable:
        return DeltaTable(table_uri(root, table), version=version, storage_options=opts)

    try:
        opened: dict[str, DeltaTable | None] = {}
        for table in tables:
            try:
                opened[table] = load(table)
            except TableNotFoundError:
                opened[table] = None
        present = {t: dt for t, dt in opened.items() if dt is not None}
        sources = sorted(_sources(present.values()))
        newest = {t: _held(dt, t, sources) for t, dt in present.items()}
        if not any(p != _NOTHING for held in newest.values() for p in held.values()):
            return LakeSnapshot(opened, {}, {})
        mark = {s: min(held[s] for held in newest.values()) for s in sources}
        chosen = dict(newest)
        while True:
            for table, held in chosen.items():
                if any(held[s] > mark[s] for s in sources):
                    version = _newest_version_within(
                        present[table].version(), partial(_held_at, load, table, sources), mark
                    )
                    present[table] = load(table, version)
                    chosen[table] = _held(present[table], table, sources)
            lowered = {s: min(held[s] for held in chosen.values()) for s in sources}
            if lowered == mark:
                break
            mark = lowered
    except (DeltaError, OSError) as exc:
        raise LakeUnavailable(f"cannot read the lake at {root}: {exc}") from exc
    return LakeSnapshot({**opened, **present}, mark, newest)


def _held_at(
    load: Callable[[str, int], DeltaTable], table: str, sources: Sequence[str], version: int
) -> Positions:
    return _held(load(table, version), table, sources)


def _held(dt: DeltaTable, table: str, sources: Iterable[str]) -> Positions:
    out: Positions = {}
    for source in sources:
        version = dt.transaction_version(app_id(source, table))
        out[source] = _NOTHING if version is None else version
    return out


def _within(held: Positions, mark: Positions) -> bool:
    return all(held[s] <= p for s, p in mark.items())


def _newest_version_within(
    newest: int, held_at: Callable[[int], Positions], mark: Positions
) -> int:
    """The highest Delta version <= `newest` whose positions are all within `mark`.
    Version 0 (the table's creation) holds nothing, so it always qualifies."""
    bad, step = newest, 1
    while True:  # step back, doubling, to a version within the mark
        good = max(0, bad - step)
        if good == 0 or _within(held_at(good), mark):
            break
        bad, step = good, step * 2
    while bad - good > 1:  # then bisect between it and the first one beyond
        middle = (good + bad) // 2
        if _within(held_at(middle), mark):
            good = middle
        else:
            bad = middle
    return good


def _sources(tables: Iterable[DeltaTable]) -> set[str]:
    """The sources rows came from, by the `source` column of the tables that have one:
    from the files' statistics, reading only files that mix several sources."""
    found: set[str] = set()
    for dt in tables:
        if "source" not in [f.name for f in dt.schema().fields]:
            continue
        actions = pa.table(dt.get_add_actions(flatten=True))
        if actions.num_rows == 0:
            continue
        if "min.source" not in actions.column_names:  # no statistics: read the column
            data = dt.to_pyarrow_dataset().to_table(columns=["source"])
            found.update(v for v in pc.unique(data.column(0)).to_pylist() if v)
            continue
        lows = actions.column("min.source").to_pylist()
        highs = actions.column("max.source").to_pylist()
        mixed = set()
        for path, low, high in zip(actions.column("path").to_pylist(), lows, highs, strict=True):
            if low is not None and low == high:
                found.add(low)
            else:
                mixed.add(path.rsplit("/", 1)[-1])
        if mixed:
            for fragment in dt.to_pyarrow_dataset().get_fragments():
                if fragment.path.rsplit("/", 1)[-1] in mixed:
                    column = fragment.to_table(columns=["source"]).column(0)
                    found.update(v for v in pc.unique(column).to_pylist() if v)
    return found
