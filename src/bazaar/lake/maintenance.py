"""Keeping the lake fast: compact small files, vacuum unreferenced ones. Both are safe
while ingest runs (docs/LAKE.md, "Compaction and vacuum").

Compaction commits a rewrite (remove small files, add one larger file per partition). An
ingest commit is a blind append that reads no existing file, so the two never conflict:
whichever commits second is retried by delta-rs on top of the other. Vacuum deletes only
files that no version within the retention window references AND that are older than the
window; a file being written by an in-flight ingest commit is seconds old, so a retention
of at least an hour can never delete it. The floor is enforced here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from bazaar.domain.errors import LakeUnavailable
from bazaar.lake.batch import normalise_root, table_uri
from bazaar.lake.tables import TABLES

MIN_RETENTION_HOURS = 1
DEFAULT_RETENTION_HOURS = 168


@dataclass(frozen=True, slots=True)
class Maintained:
    table: str
    files_before: int
    files_after: int
    removed: int  # files rewritten (compact) or deleted (vacuum)
    version: int


def _open(root: str, table: str, options: Mapping[str, str] | None) -> DeltaTable | None:
    try:
        return DeltaTable(table_uri(root, table), storage_options=dict(options or {}))
    except TableNotFoundError:
        return None


def compact(
    lake: str | Path,
    *,
    tables: Sequence[str] = TABLES,
    target_mb: int = 128,
    storage_options: Mapping[str, str] | None = None,
) -> list[Maintained]:
    root = normalise_root(lake)
    out = []
    for table in tables:
        try:
            dt = _open(root, table, storage_options)
            if dt is None:
                continue
            before = len(dt.file_uris())
            metrics = dt.optimize.compact(target_size=target_mb * 1024 * 1024)
            dt.create_checkpoint()  # fewer log files to read for every later snapshot
            out.append(
                Maintained(
                    table,
                    before,
                    len(dt.file_uris()),
                    int(metrics.get("numFilesRemoved", 0)),
                    dt.version(),
                )
            )
        except (DeltaError, OSError) as exc:
            raise LakeUnavailable(f"compacting {table}: {exc}") from exc
    return out


def vacuum(
    lake: str | Path,
    *,
    tables: Sequence[str] = TABLES,
    retention_hours: int = DEFAULT_RETENTION_HOURS,
    dry_run: bool = False,
    storage_options: Mapping[str, str] | None = None,
) -> list[Maintained]:
    if retention_hours < MIN_RETENTION_HOURS:
        raise ValueError(
            f"retention below {MIN_RETENTION_HOURS} h could delete files an ingest is "
            "committing right now"
        )
    root = normalise_root(lake)
    out = []
    for table in tables:
        try:
            dt = _open(root, table, storage_options)
            if dt is None:
                continue
            files = len(dt.file_uris())
            deleted = dt.vacuum(
                retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False
            )
            if not dry_run:
                dt.cleanup_metadata()  # expired log entries, per the table's log retention
            out.append(Maintained(table, files, files, len(deleted), dt.version()))
        except (DeltaError, OSError) as exc:
            raise LakeUnavailable(f"vacuuming {table}: {exc}") from exc
    return out
