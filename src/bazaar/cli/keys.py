"""`bazaar keys new`: a fresh server API key, shown once, its hash appended to a key file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bazaar.cli.common import add_command, console, fail

DEFAULT_KEY_FILE = "keys.txt"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "keys",
        summary="make server API keys for `bazaar serve --api-key-file`",
        description=(
            "Server API keys let a trusted game server create players and run trades once "
            "auth is on. `keys new` prints a new key once (store it in the game server's "
            "secrets: it cannot be shown again) and appends only its SHA-256 hash to the key "
            "file, so the file holds no secret. A running `bazaar serve --api-key-file FILE` "
            "picks the new key up within a second; delete a line to revoke its key."
        ),
        example="bazaar keys new --file keys.txt --comment 'game server eu-1'",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = add_command(
        actions,
        "new",
        summary="print a new key once and append its hash to the key file",
        description="Print a new server key on stdout and append its hash line to --file.",
        example="bazaar keys new --file keys.txt > new-key.txt",
    )
    new.add_argument(
        "--file",
        default=DEFAULT_KEY_FILE,
        metavar="PATH",
        help=f"key file to append the hash to (default {DEFAULT_KEY_FILE}; created if missing)",
    )
    new.add_argument("--comment", help="a `# comment` line written above the hash (who uses it)")
    new.set_defaults(func=run_new)


def run_new(args: argparse.Namespace) -> int:
    from bazaar.api.auth import new_api_key

    key, line = new_api_key()
    path = Path(args.file)
    comment = " ".join((args.comment or "").split())  # one line, whatever was typed
    text = (f"# {comment}\n" if comment else "") + line + "\n"
    try:
        if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            text = "\n" + text  # never glue the hash onto a hand-edited last line
        # Owner-only from the first byte: the file says which keys are valid.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        fail(f"cannot append to {path}: {exc.strerror or exc}")
    print(key)
    console.print(
        f"appended its hash to {path}; the key above is shown only now. Use it as "
        f"`Authorization: Bearer <key>`; serve with: bazaar serve --api-key-file {path}"
    )
    return 0
