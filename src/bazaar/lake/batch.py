"""What a source hands the lake writer (`Polled`), what the writer answers (`BatchResult`),
and where the lake's tables and their Delta app transactions live (`table_uri`, `app_id`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from bazaar.lake.tables import TABLES


@dataclass(slots=True)
class Polled:
    """Events as read from a source, column-wise: event i is the exact bytes raws[i], read
    at positions[i] of sources[i]. A batch of 50,000 per-event objects costs more to build
    than to read."""

    sources: list[str] = field(default_factory=list)  # "outbox" or "kafka:TOPIC:PARTITION"
    positions: list[int] = field(default_factory=list)  # outbox seq or Kafka offset; increasing
    raws: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.raws)

    def extend(self, more: Polled) -> None:
        self.sources += more.sources
        self.positions += more.positions
        self.raws += more.raws

    def without(self, sources: Collection[str]) -> Polled:
        keep = [i for i, s in enumerate(self.sources) if s not in sources]
        return Polled(
            [self.sources[i] for i in keep],
            [self.positions[i] for i in keep],
            [self.raws[i] for i in keep],
        )


@dataclass(slots=True)
class BatchResult:
    events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    positions: dict[str, int] = field(default_factory=dict)  # source -> last position landed


def app_id(source: str, table: str) -> str:
    return f"{source}:{table}"


def table_uri(root: str, table: str) -> str:
    return f"{root.rstrip('/')}/{table}"


def normalise_root(root: str | Path) -> str:
    """Object-store URIs unchanged; local paths made absolute."""
    text = str(root)
    if "://" in text:
        return text.rstrip("/")
    return str(Path(text).expanduser().resolve())
