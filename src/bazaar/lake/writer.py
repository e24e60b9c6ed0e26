"""The Delta writer: a micro-batch of events becomes one commit per table, exactly once.

Exactly-once across seven tables without a multi-table transaction (docs/LAKE.md, "Exactly
once"). Each event arrives with its source (`outbox`, `kafka:TOPIC:PARTITION`) and its
position there (outbox seq / Kafka offset), increasing within a source. Every commit to a
table carries one Delta app transaction per source in the batch,
`app_id = f"{source}:{table}"`, `version` = the highest position of that source in the batch,
and it is written in the same commit as the rows. Hence, per table and source:

    the table holds the rows of every event at a position <= its version, and no other.

1. Before writing table T, refresh T and read its version v for each source; write only the
   rows of events at positions > v. So a replayed batch (after a crash between the commits
   of two tables, or with different batch boundaries) adds each table exactly what it lacks.
   delta-rs does not refuse a stale version by itself: this check is what does.
2. The write commits against the snapshot the check read. If another writer committed the
   same app id meanwhile (a zombie after a Kafka rebalance), delta-rs's conflict checker
   refuses the commit ("concurrent transaction"); we refresh, re-check and re-filter.
3. Every batch commits every table, with an empty commit when a table got no rows, so the
   resume position (the minimum over tables) keeps up even for tables rarely written.
4. A restarted ingest resumes its source after `resume_position(source)`.

Events are decoded a whole batch at a time, column-wise (columnar.py; the per-event decoder
in tables.py is its fallback and its reference). Duplicates (the same event_id redelivered
at another position, e.g. by an at-least-once relay) are dropped by `event_id`. The memory
of which (source, position) first carried an event_id is rebuilt from the lake's primary
tables on open, so the decision is the same in a replay as in the original run; it covers
`dedup_days` of event dates, which bounds memory (redeliveries come seconds or minutes
late, not days).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import cast

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from bazaar.domain.errors import LakeFenced, LakeUnavailable
from bazaar.lake.batch import BatchResult, Polled, app_id, normalise_root, table_uri
from bazaar.lake.columnar import EVENT_INDEX, DecodedBatch, decode_batch
from bazaar.lake.storage_errors import one_line, os_errno, write_failure
from bazaar.lake.tables import (
    PARTITION_COLUMN,
    PRIMARY_TABLES,
    SCHEMAS,
    TABLES,
    Row,
    now_us,
    to_arrow,
)

_COMMIT_ATTEMPTS = 5


@dataclass(slots=True)
class _Staged:
    """A decoded batch and, per event, whether it lands (not a duplicate), its source (as
    an index into `sources`) and its position: what each table's commit filters on."""

    decoded: DecodedBatch
    lands: list[bool]
    source_of: pa.Array  # int32 per event
    positions: pa.Array  # int64 per event
    sources: list[str]

    @classmethod
    def of_rows(cls, table: str, events: Sequence[tuple[str, int, list[Row]]]) -> _Staged:
        """One table's rows given per event as (source, position, rows)."""
        names: dict[str, int] = {}
        rows = [row for _, _, event in events for row in event]
        index = [i for i, (_, _, event) in enumerate(events) for _ in event]
        data = to_arrow(table, rows).append_column(EVENT_INDEX, pa.array(index, pa.int64()))
        return cls(
            DecodedBatch({table: data}, [], []),
            [True] * len(events),
            pa.array([names.setdefault(s, len(names)) for s, _, _ in events], pa.int32()),
            pa.array([p for _, p, _ in events], pa.int64()),
            list(names),
        )


@dataclass(slots=True)
class StagedBatch:
    """A micro-batch staged by `LakeWriter.stage`, ready for `LakeWriter.commit`."""

    staged: _Staged | None  # None: an empty batch
    tops: dict[str, int]  # source -> highest position in the batch
    result: BatchResult


class LakeWriter:
    """Writes micro-batches to the lake's tables; one instance per ingest process."""

    def __init__(
        self,
        root: str | Path,
        *,
        storage_options: Mapping[str, str] | None = None,
        dedup_days: int = 2,
        parallel: int = 4,
    ) -> None:
        self.root = normalise_root(root)
        self.storage_options = dict(storage_options or {})
        self.dedup_days = dedup_days
        self._tables: dict[str, DeltaTable] = {}
        self._seen: dict[str, dict[str, tuple[str, int]]] = {}  # event_date -> id -> first
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="lake-commit")

    # -- opening -------------------------------------------------------------------------

    def open(self) -> LakeWriter:
        for table in TABLES:
            self._tables[table] = self._open_or_create(table)
        self.reload_seen()
        return self

    def _open_or_create(self, table: str) -> DeltaTable:
        uri = table_uri(self.root, table)
        opts = self.storage_options or None
        try:
            try:
                return DeltaTable(uri, storage_options=opts)
            except TableNotFoundError:
                pass
            try:
                return DeltaTable.create(
                    uri,
                    schema=SCHEMAS[table],
                    mode="ignore",
                    partition_by=[PARTITION_COLUMN],
                    storage_options=opts,
                )
            except DeltaError:
                # Another ingest process created it between our two calls.
                return DeltaTable(uri, storage_options=opts)
        except (DeltaError, OSError) as exc:
            if os_errno(exc) is not None:
                raise LakeUnavailable(write_failure(exc, uri)) from exc
            raise LakeUnavailable(f"cannot open lake table {uri}: {one_line(str(exc))}") from exc

    def reload_seen(self) -> None:
        """Rebuild the duplicate filter's memory from the lake (on open, and whenever other
        writers may have landed events this process will see again: a Kafka rebalance)."""
        self._seen = {}
        try:
            for table in PRIMARY_TABLES:
                dt = self._tables[table]
                dt.update_incremental()
                days = sorted({p[PARTITION_COLUMN] for p in dt.partitions()})
                if not days:
                    continue
                floor = self._floor(days[-1])
                data = dt.to_pyarrow_dataset().to_table(
                    columns=["event_id", PARTITION_COLUMN, "source", "position"],
                    filter=pc.field(PARTITION_COLUMN) >= floor,
                )
                for eid, day, source, pos in zip(
                    *(data.column(i).to_pylist() for i in range(4)), strict=True
                ):
                    self._seen.setdefault(day, {})[eid] = (source, pos)
        except (DeltaError, OSError) as exc:
            raise LakeUnavailable(f"cannot read the lake at {self.root}: {exc}") from exc
        if self._seen:
            self._evict(max(self._seen))

    def _floor(self, newest_day: str) -> str:
        return (date.fromisoformat(newest_day) - timedelta(days=self.dedup_days)).isoformat()

    def _evict(self, newest_day: str) -> None:
        floor = self._floor(newest_day)
        for day in [d for d in self._seen if d < floor]:
            del self._seen[day]

    # -- positions -----------------------------------------------------------------------

    def resume_position(self, source: str) -> int | None:
        """The position every table holds for `source` (None: start from the beginning)."""
        versions = self.table_versions(source)
        if any(v is None for v in versions.values()):
            return None
        return min(v for v in versions.values() if v is not None)

    def table_versions(self, source: str) -> dict[str, int | None]:
        try:
            out: dict[str, int | None] = {}
            for table, dt in self._tables.items():
                dt.update_incremental()
                out[table] = dt.transaction_version(app_id(source, table))
            return out
        except (DeltaError, OSError) as exc:
            raise LakeUnavailable(f"cannot read the lake at {self.root}: {exc}") from exc

    # -- writing -------------------------------------------------------------------------

    def write(self, batch: Polled) -> BatchResult:
        """Land a micro-batch: one commit per table (see the module docstring)."""
        return self.commit(self.stage(batch))

    def stage(self, batch: Polled) -> StagedBatch:
        """The first half of `write`: decode, and decide duplicates against the memory of
        event ids, which this updates. Stage batches in the order they are committed."""
        sources, positions, raws = batch.sources, batch.positions, batch.raws
        result = BatchResult(events=len(raws))
        if not raws:
            return StagedBatch(None, {}, result)
        received = now_us()
        # Decoding allocates many small acyclic objects; the cyclic collector would rescan
        # them repeatedly (measured: ~30% of ingest time). Nothing here is cyclic.
        collecting = gc.isenabled()
        gc.disable()
        try:
            staged, tops = self._stage(sources, positions, raws, received, result)
        finally:
            if collecting:
                gc.enable()
        return StagedBatch(staged, tops, result)

    def commit(self, batch: StagedBatch) -> BatchResult:
        """The second half of `write`: commit every table (in parallel), positions inside.
        Safe on another thread than `stage`, one batch at a time, in staging order."""
        result = batch.result
        if batch.staged is None:
            return result
        staged, tops = batch.staged, batch.tops
        futures = {t: self._pool.submit(self._commit_staged, t, staged, tops) for t in TABLES}
        for table, future in futures.items():
            result.rows[table] = future.result()
        result.positions = tops
        return result

    def _stage(
        self,
        sources: Sequence[str],
        positions: Sequence[int],
        raws: Sequence[bytes],
        received: int,
        result: BatchResult,
    ) -> tuple[_Staged, dict[str, int]]:
        codes: dict[str, int] = {}
        if len(set(sources)) == 1:  # the outbox, or one Kafka partition
            codes[sources[0]] = 0
            source_of = [0] * len(sources)
        else:
            source_of = [codes.setdefault(s, len(codes)) for s in sources]
        names = list(codes)
        tops = dict.fromkeys(names, -1)
        for code, pos in zip(source_of, positions, strict=True):
            if pos > tops[names[code]]:
                tops[names[code]] = pos
        decoded = decode_batch(raws, sources, positions, received)
        result.dead_letters = decoded.dead_letters
        lands = [True] * len(raws)
        if not self._first_seen(sources, positions, decoded):
            self._dedupe(sources, positions, decoded, lands, result)
        staged = _Staged(
            decoded,
            lands,
            pa.array(source_of, pa.int32()),
            pa.array(positions, pa.int64()),
            names,
        )
        return staged, tops

    def _first_seen(
        self, sources: Sequence[str], positions: Sequence[int], decoded: DecodedBatch
    ) -> bool:
        """The usual batch, recorded in C-level passes: every event decoded, one event
        date, every event id new (to the memory and within the batch). False: nothing
        recorded, take `_dedupe`."""
        ids, days = decoded.event_ids, decoded.event_dates
        if not ids or decoded.dead_letters or None in ids or days.count(days[0]) != len(days):
            return False
        day_name = days[0]
        assert day_name is not None  # decoded: not a dead letter
        day = self._seen.get(day_name)
        if day is None:
            day = self._seen[day_name] = {}
            self._evict(max(self._seen))
        first = zip(sources, positions, strict=True)
        batch = dict(zip(cast(list[str], ids), first, strict=True))  # no None: checked above
        if len(batch) != len(ids) or not day.keys().isdisjoint(batch):
            return False
        day.update(batch)
        return True

    def _dedupe(
        self,
        sources: Sequence[str],
        positions: Sequence[int],
        decoded: DecodedBatch,
        lands: list[bool],
        result: BatchResult,
    ) -> None:
        """Per event: the first (source, position) to carry its id lands; others don't."""
        seen = self._seen
        for i, (event_id, day_name) in enumerate(
            zip(decoded.event_ids, decoded.event_dates, strict=True)
        ):
            if event_id is None or day_name is None:
                continue  # a dead letter: always lands
            day = seen.get(day_name)
            if day is None:
                day = seen[day_name] = {}
                self._evict(max(seen))
            here = (sources[i], positions[i])
            if day.setdefault(event_id, here) != here:
                lands[i] = False
                result.duplicates += 1

    def _commit(
        self, table: str, events: Sequence[tuple[str, int, list[Row]]], tops: Mapping[str, int]
    ) -> int:
        """Commit one table's rows given per event as (source, position, rows): the
        row-wise form, which tests use to stop a batch between two tables' commits."""
        return self._commit_staged(table, _Staged.of_rows(table, events), tops)

    def _commit_staged(self, table: str, staged: _Staged, tops: Mapping[str, int]) -> int:
        dt = self._tables[table]
        data = staged.decoded.tables[table]
        for _ in range(_COMMIT_ATTEMPTS):
            try:
                dt.update_incremental()
                held = {s: dt.transaction_version(app_id(s, table)) for s in tops}
                todo = {s: top for s, top in tops.items() if (v := held[s]) is None or top > v}
                if not todo:
                    return 0  # a replay: this table already holds the whole batch
                # Per event: lands (not a duplicate) and beyond what this table holds.
                floors = pa.array(
                    [v if (v := held[s]) is not None else -(2**63) for s in staged.sources],
                    pa.int64(),
                )
                beyond = pc.greater(staged.positions, pc.take(floors, staged.source_of))
                lands = pc.and_(beyond, pa.array(staged.lands, pa.bool_()))
                rows = data.filter(pc.take(lands, data.column(EVENT_INDEX)))
                rows = rows.drop_columns([EVENT_INDEX])
                write_deltalake(
                    dt,
                    rows,
                    mode="append",
                    commit_properties=CommitProperties(
                        app_transactions=[
                            Transaction(app_id=app_id(s, table), version=top)
                            for s, top in todo.items()
                        ]
                    ),
                )
                return int(rows.num_rows)
            except CommitFailedError as exc:
                if "concurrent transaction" not in str(exc).lower():
                    raise LakeUnavailable(write_failure(exc, table_uri(self.root, table))) from exc
                # Someone else committed one of our app ids: refresh and take only the rest.
            except (DeltaError, OSError) as exc:
                raise LakeUnavailable(write_failure(exc, table_uri(self.root, table))) from exc
        raise LakeFenced(f"{table}: another writer keeps committing the same source positions")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._tables.clear()

    def __enter__(self) -> LakeWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
