"""`bazaar lake compact|vacuum`: maintenance, safe while ingest runs."""

from __future__ import annotations

import argparse

from bazaar.cli.common import add_command, console, fail, out
from bazaar.cli.lake_flags import add_lake_flags, lake_root, parse_options
from bazaar.config import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "lake",
        summary="maintain the Delta Lake: compact small files, vacuum unreferenced ones",
        description="Lake maintenance; both actions are safe while `bazaar ingest` runs.",
        example="bazaar lake compact --lake bazaar-data/lake",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = add_command(
        actions,
        "compact",
        summary="rewrite small files into larger ones (one commit per table)",
        description="Bin-pack each partition's small files into files of about --target-mb.",
        example="bazaar lake compact --lake bazaar-data/lake --table trades",
    )
    v = add_command(
        actions,
        "vacuum",
        summary="delete files no version within the retention window references",
        description=(
            "Delete unreferenced files older than --retention-hours (at least 1, so files of "
            "an in-flight ingest commit are never touched); also expires old log entries."
        ),
        example="bazaar lake vacuum --lake bazaar-data/lake --retention-hours 24",
    )
    for action in (c, v):
        add_lake_flags(action)
        action.add_argument(
            "--table", action="append", help="only this table (repeatable; default all)"
        )
    c.add_argument("--target-mb", type=int, default=128, help="target file size (default 128)")
    v.add_argument("--retention-hours", type=int, default=168, help="default 168 (7 days)")
    v.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    c.set_defaults(func=run)
    v.set_defaults(func=run)
    from bazaar.cli.trino import register_trino_ddl

    register_trino_ddl(actions)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from bazaar.domain.errors import BazaarError
    from bazaar.lake.maintenance import compact, vacuum
    from bazaar.lake.tables import TABLES

    root = lake_root(args, Settings.from_environ())
    options = parse_options(args.storage_option, "--storage-option")
    tables = args.table or list(TABLES)
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        fail(f"unknown table(s) {', '.join(unknown)}; tables: {', '.join(TABLES)}")
    try:
        if args.action == "compact":
            done = compact(root, tables=tables, target_mb=args.target_mb, storage_options=options)
            removed = "files rewritten"
        else:
            done = vacuum(
                root,
                tables=tables,
                retention_hours=args.retention_hours,
                dry_run=args.dry_run,
                storage_options=options,
            )
            removed = "files to delete" if args.dry_run else "files deleted"
    except (BazaarError, ValueError) as exc:
        fail(str(exc))
    table = Table(title=f"lake {args.action}: {root}", header_style="bold")
    for column in ("table", "files before", "files after", removed, "version"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for m in done:
        table.add_row(
            m.table, str(m.files_before), str(m.files_after), str(m.removed), str(m.version)
        )
    out.print(table)
    if not done:
        out.print("no lake tables found (run `bazaar ingest` first)")
    elif args.action == "compact" and any(m.removed for m in done):
        # Compaction only marks the small files removed: they stay on disk for time travel.
        console.print(
            f"the {sum(m.removed for m in done):,} replaced files stay on disk until vacuumed; "
            f"to free the space: bazaar lake vacuum --lake {root} (keeps 168 h of history; "
            "--dry-run lists first)"
        )
    return 0
