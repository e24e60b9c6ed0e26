"""Structured logs: one event per line, as JSON or as text, with the request's id.

`--log-format json|text` on every long-running command calls `configure_logging`; `bazaar
serve` also hands `uvicorn_log_config` to uvicorn so its workers (separate processes) log
the same way. A JSON line is an object with `ts` (UTC, ISO 8601), `level`, `logger`,
`event` (the message), `request_id` while a request is being answered, any `extra=` fields
the caller gave, and `error` (the traceback) when there is one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

LOG_FORMATS = ("text", "json")
ANNOUNCE_LOGGER = "bazaar.announce"
_json_console = False
# The id of the request being answered, for every log line written meanwhile.
request_id: ContextVar[str | None] = ContextVar("bazaar_request_id", default=None)

# Attributes every LogRecord has: whatever else is on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    rid = request_id.get()
    if rid is not None:
        fields["request_id"] = rid
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            fields[key] = value
    return fields


def _instant(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _instant(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        doc.update(_fields(record))
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{_instant(record)} {record.levelname.lower():<7} {record.name}: "
        line += record.getMessage() + (f"  {extra}" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(log_format: str = "text", level: str = "info") -> None:
    """Route every logger (bazaar's, uvicorn's, libraries') to stderr in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    global _json_console
    _json_console = log_format == "json"
    # What a command announces (where it serves, what it follows) shows at any level.
    logging.getLogger(ANNOUNCE_LOGGER).setLevel(logging.INFO)


def announce(message: str, *, warning: bool = False) -> None:
    """A command's banner line: to the console as it is, or, with --log-format json, as a
    log event (markup dropped) so that every line on stderr parses."""
    if not _json_console:
        from bazaar.console import console

        console.print(message)
        return
    from rich.text import Text

    text = Text.from_markup(message).plain.strip()
    logging.getLogger(ANNOUNCE_LOGGER).log(logging.WARNING if warning else logging.INFO, text)


def uvicorn_log_config(log_format: str, level: str) -> dict[str, Any]:
    """A logging dictConfig for uvicorn: it applies it in every worker it starts."""
    formatter = "JsonFormatter" if log_format == "json" else "TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"bazaar": {"()": f"bazaar.telemetry.logs.{formatter}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "bazaar",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"level": level.upper(), "propagate": True},
            "uvicorn.error": {"level": level.upper(), "propagate": True},
            "uvicorn.access": {"level": level.upper(), "propagate": True},
        },
    }


def add_log_flags(parser: argparse.ArgumentParser, *, level: bool = True) -> None:
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="log lines as text (default) or one JSON object per line (for a log shipper)",
    )
    if level:
        parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
