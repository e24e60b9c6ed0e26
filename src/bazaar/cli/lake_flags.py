"""The flags every command on the lake shares (`--lake`, `--storage-option`) and the
KEY=VALUE options they and ingest's `--kafka-option` take: one reading of them for
`bazaar ingest` (either engine), `bazaar lake` and `bazaar lake trino-ddl`."""

from __future__ import annotations

import argparse

from bazaar.cli.common import fail
from bazaar.config import DEFAULT_DATA_DIR, Settings

DEFAULT_LAKE = DEFAULT_DATA_DIR / "lake"


def parse_options(pairs: list[str] | None, flag: str) -> dict[str, str]:
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"{flag} expects KEY=VALUE, got {pair!r}")
        options[key] = value
    return options


def add_lake_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lake",
        metavar="PATH_OR_URI",
        help=f"lake root: a local path (default {DEFAULT_LAKE}) or s3://, gs://, az:// URI",
    )
    p.add_argument(
        "--storage-option",
        action="append",
        metavar="KEY=VALUE",
        help="object-store option passed to delta-rs (repeatable), e.g. AWS_REGION=eu-west-1",
    )


def lake_root(args: argparse.Namespace, settings: Settings) -> str:
    return str(args.lake or settings.lake or DEFAULT_LAKE)
