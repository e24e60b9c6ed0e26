"""`bazaar demo`: the whole story on embedded defaults, no servers to install."""

from __future__ import annotations

import argparse
from pathlib import Path

from bazaar.cli.common import add_command, free_port
from bazaar.cli.serve import serve
from bazaar.config import DEFAULT_DATA_DIR, Settings, default_store_url


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "demo",
        summary="start the API on embedded defaults and show how to use it",
        description="Start the trade API with the embedded SQLite store on a free port.",
        example="bazaar demo --data-dir ./bazaar-data",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where the store lives (default ./bazaar-data)",
    )
    p.add_argument("--port", type=int, help="port (default: a free one)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    port = args.port or free_port()
    settings = Settings(store=default_store_url(args.data_dir), port=port)
    url = f"http://127.0.0.1:{port}"
    banner = (
        f"bazaar demo: API on [bold]{url}[/], store {settings.store}\n"
        f"  try: curl -s -X POST {url}/players -H 'content-type: application/json'"
        ' -d \'{"player_class": "farmer"}\''
    )
    serve(settings, banner=banner)
    return 0
