"""`bazaar lake trino-ddl`: statements that register the lake's tables in Trino.

Trino's Delta Lake connector reads the tables where they are (no copy): each is registered
once with `CALL <catalog>.system.register_table(...)`, which the catalog must allow
(`delta.register-table-procedure.enabled=true`). The statements are printed, not run: an
operator pipes them into the Trino CLI (`bazaar lake trino-ddl ... | trino --server ...`).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bazaar.analytics.sql import string_literal
from bazaar.cli.common import add_command, fail, out
from bazaar.config import Settings

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def register_trino_ddl(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bazaar.cli.lake_flags import add_lake_flags

    p = add_command(
        actions,
        "trino-ddl",
        summary="print the SQL that registers the lake's tables in Trino's Delta connector",
        description=(
            "Print CREATE SCHEMA and one CALL system.register_table per lake table, for "
            "Trino's Delta Lake connector. The lake URI must be one Trino can read "
            "(s3://, gs://, abfs://, or file:// on every Trino worker)."
        ),
        example="bazaar lake trino-ddl --lake s3://studio-lake/bazaar --catalog delta",
    )
    add_lake_flags(p)
    p.add_argument("--catalog", default="delta", help="Trino catalog name (default delta)")
    p.add_argument("--schema", default="bazaar", help="Trino schema name (default bazaar)")
    p.set_defaults(func=run_trino_ddl)


def table_location(root: str, table: str) -> str:
    """An absolute URI Trino understands: object-store URIs as given, local paths file://."""
    if "://" in root:
        return f"{root.rstrip('/')}/{table}"
    return (Path(root).expanduser().resolve() / table).as_uri()


def trino_ddl(root: str, catalog: str, schema: str, tables: list[str]) -> list[str]:
    """The statements, in order: the schema, then one registration per table."""
    for name, value in (("catalog", catalog), ("schema", schema)):
        if not _IDENTIFIER.match(value):
            raise ValueError(f"{name} must be a plain SQL identifier, got {value!r}")
    lines = [f"CREATE SCHEMA IF NOT EXISTS {catalog}.{schema};"]
    for table in tables:
        lines.append(
            f"CALL {catalog}.system.register_table(schema_name => {string_literal(schema)}, "
            f"table_name => {string_literal(table)}, "
            f"table_location => {string_literal(table_location(root, table))});"
        )
    return lines


def run_trino_ddl(args: argparse.Namespace) -> int:
    from bazaar.cli.lake_flags import lake_root
    from bazaar.lake.tables import TABLES

    root = lake_root(args, Settings.from_environ())
    tables = list(TABLES)
    if "://" not in root:
        # A local lake can be checked: register only tables ingest has created.
        tables = [t for t in TABLES if (Path(root) / t / "_delta_log").is_dir()]
        if not tables:
            fail(f"no lake tables at {root} (run `bazaar ingest` first)")
    try:
        statements = trino_ddl(root, args.catalog, args.schema, tables)
    except ValueError as exc:
        fail(str(exc))
    out.print(
        f"-- Trino Delta Lake connector: register the bazaar lake at {root}\n"
        f"-- (catalog {args.catalog} needs delta.register-table-procedure.enabled=true)",
        highlight=False,
        soft_wrap=True,
    )
    for statement in statements:
        out.print(statement, highlight=False, soft_wrap=True, markup=False)
    return 0
