"""`bazaar outbox status|drop-consumer|vacuum`: see and steer what the store's outbox holds."""

from __future__ import annotations

import argparse

from bazaar.cli.common import add_command, add_store_flags, fail, out
from bazaar.config import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "outbox",
        summary="the outbox's consumers, their positions and lag, and what is held",
        description=(
            "The outbox keeps each event until every registered consumer (the relay, each"
            " lake ingest) has passed it and --outbox-retention has gone by; `bazaar serve`"
            " releases the rest. These commands show and steer that."
        ),
        example="bazaar outbox status --store redis://127.0.0.1:6379/0",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = add_command(
        actions,
        "status",
        summary="consumers, positions, lag, stale consumers, what is held and released",
        description="Print every registered consumer and what the outbox holds for it.",
        example="bazaar outbox status --store sqlite:///bazaar-data/bazaar.db --json",
    )
    status.add_argument(
        "--consumer-timeout",
        metavar="DURATION",
        help="call a consumer stale after this much silence (default 24h, as serve)",
    )
    status.add_argument("--json", action="store_true", help="one JSON document on stdout")
    drop = add_command(
        actions,
        "drop-consumer",
        summary="forget a consumer that is gone for good, so it holds nothing any more",
        description=(
            "Stop holding outbox entries for NAME. If that consumer runs again it stops with"
            " 'outbox_released' rather than skip what was released meanwhile."
        ),
        example="bazaar outbox drop-consumer lake:/data/old-lake --store redis://127.0.0.1:6379/0",
    )
    drop.add_argument("name", metavar="NAME", help="as `bazaar outbox status` lists it")
    vacuum = add_command(
        actions,
        "vacuum",
        summary="SQLite: turn on incremental vacuum for a file created before it (offline)",
        description=(
            "Files bazaar creates give freed space back as the server releases; a file made"
            " by an older bazaar only reuses it. This rewrites such a file once (VACUUM, as"
            " long as reading the whole file takes; stop the server first)."
        ),
        example="bazaar outbox vacuum --store sqlite:///bazaar-data/bazaar.db",
    )
    for action in (status, drop, vacuum):
        add_store_flags(action)
    status.set_defaults(func=run_status)
    drop.set_defaults(func=run_drop)
    vacuum.set_defaults(func=run_vacuum)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_environ().override(
        store=args.store,
        catalog=args.catalog,
        consumer_timeout=getattr(args, "consumer_timeout", None),
    )


def run_status(args: argparse.Namespace) -> int:
    import orjson
    from rich.table import Table

    from bazaar.bootstrap import build_store
    from bazaar.domain.errors import BazaarError
    from bazaar.store.retention import format_duration, outbox_status, parse_duration

    settings = _settings(args)
    try:
        timeout = parse_duration(settings.consumer_timeout, "--consumer-timeout")
        with build_store(settings) as store:
            status = outbox_status(store, timeout)
            archived = store.archived()
    except (BazaarError, ValueError) as exc:
        fail(str(exc))
    if args.json:
        doc = status.to_document()
        doc["archived"] = {"trades": archived.trades, "offers": archived.offers}
        out.print(orjson.dumps(doc).decode(), soft_wrap=True)
        return 1 if status.degraded else 0
    out.print(
        f"outbox head {status.head:,}, released up to {status.released:,},"
        f" holding {status.held:,} entries"
        + (f" (held by [bold]{status.held_by}[/])" if status.held_by else "")
    )
    out.print(
        f"trade records archived up to id {archived.trades:,};"
        f" offers swept up to id {archived.offers:,}"
    )
    if not status.consumers:
        out.print(
            "no consumer registered: the server releases nothing until a relay or a lake"
            " ingest registers"
        )
        return 0
    table = Table("consumer", "position", "lag", "last recorded", "state")
    for c in status.consumers:
        seen = "never" if c.silent_for is None else f"{format_duration(round(c.silent_for))} ago"
        state = "[bold red]stale[/]" if c.stale else "live"
        table.add_row(c.name, f"{c.position:,}", f"{c.lag:,}", seen, state)
    out.print(table)
    for c in status.stale:
        out.print(
            f"[bold red]stale:[/] {c.name} holds {c.lag:,} entries; restart it, or"
            f" `bazaar outbox drop-consumer {c.name}` if it is gone for good"
        )
    return 1 if status.degraded else 0


def run_drop(args: argparse.Namespace) -> int:
    from bazaar.bootstrap import build_store
    from bazaar.domain.errors import BazaarError

    try:
        with build_store(_settings(args)) as store:
            known = [c.name for c in store.consumers()]
            dropped = store.drop_consumer(args.name)
    except BazaarError as exc:
        fail(str(exc))
    if not dropped:
        fail(f"no consumer named {args.name!r}; registered: {', '.join(known) or 'none'}")
    out.print(f"dropped consumer {args.name}: it holds no outbox entries any more")
    return 0


def run_vacuum(args: argparse.Namespace) -> int:
    import sqlite3

    from bazaar.store.sqlite import sqlite_path
    from bazaar.store.sqlite_retention import enable_incremental_vacuum

    settings = _settings(args)
    if not settings.store.startswith("sqlite:///"):
        fail("vacuum is for SQLite stores (Redis returns memory as it releases)")
    path = sqlite_path(settings.store)
    if not path.exists():
        fail(f"no such file: {path}")
    try:
        before, after = enable_incremental_vacuum(path)
    except (OSError, sqlite3.Error) as exc:
        fail(f"cannot vacuum {path}: {exc}")
    out.print(f"auto_vacuum is incremental; file {before / 1e6:,.1f} MB -> {after / 1e6:,.1f} MB")
    return 0
