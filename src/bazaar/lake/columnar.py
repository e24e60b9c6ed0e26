"""Column-wise decoding of a micro-batch: event bytes -> one Arrow table per lake table.

Decoding event by event in Python (`event_rows.event_rows`) caps ingest near 30,000 events/s on
this machine; here the whole batch is parsed by Arrow's JSON reader against one explicit
schema (the union of the three payloads) and every table is assembled with compute kernels.

The fast path only vouches for events the strict decoder would accept AND map to the same
rows; everything else takes the strict path, one event at a time:
- a block Arrow refuses to parse (wrong type, bad JSON, duplicate key) is halved until the
  offending event is alone, so its neighbours stay on the fast path;
- a body that is not one `{...}` on one line, a missing field, an unknown type or version,
  an `occurred_at` not in the canonical `YYYY-MM-DDTHH:MM:SS.ffffffZ` form (what
  `domain.clock` writes; other zones are valid but rare) goes to `event_rows`, which either
  maps it or raises `MalformedEvent` -> a dead-letter row with the strict path's reason.
So a dead letter is decided by exactly the same rules as before, and a batch's rows are
identical whichever path each event took (tests/unit/test_lake_tables_columnar.py).

Every table comes back with an extra `EVENT_INDEX` column (the event's index in the batch),
rows in batch order, so the writer can drop duplicates and already-landed positions per
event without going back to Python rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from bazaar.codec import MalformedEvent
from bazaar.domain.events import PLAYER_CREATED, TRADE_ACCEPTED, TRADE_REJECTED
from bazaar.lake.columnar_tables import ASSEMBLERS, SCHEMAS_WITH_INDEX, Payload
from bazaar.lake.columnar_tables import EVENT_INDEX as EVENT_INDEX  # re-exported
from bazaar.lake.event_rows import event_rows
from bazaar.lake.tables import (
    DEAD_LETTERS,
    TABLES,
    TIMESTAMP,
    Row,
    dead_letter_row,
    to_arrow,
)

_I, _S = pa.int64(), pa.string()
_HELD = pa.struct([("item_id", _I), ("quantity", _I)])
_GIVEN = pa.struct([("item_id", _I), ("quantity", _I), ("value", _I)])
_SIDE = pa.struct(
    [
        ("player_id", _I),
        ("gold", _I),
        ("items", pa.list_(_GIVEN)),
        ("gold_after", _I),
        ("version", _I),
        ("items_after", pa.list_(_HELD)),
        ("distinct_items", _I),
        ("items_value", _I),
        ("items_held", _I),
        ("fee", _I),  # read only to send a trade that paid a fee to the strict path
    ]
)
_PAYLOAD = pa.struct(
    [
        ("player_id", _I),
        ("username", _S),
        ("player_class", _S),
        ("gold", _I),
        ("capacity", _I),
        ("items", pa.list_(_HELD)),
        ("version", _I),
        ("distinct_items", _I),
        ("items_value", _I),
        ("items_held", _I),
        ("trade_id", _I),
        ("reason", _S),
        ("detail", _S),
        ("player_1", _SIDE),
        ("player_2", _SIDE),
    ]
)
_ENVELOPE = pa.schema(
    [
        ("event_id", _S),
        ("event_type", _S),
        ("schema_version", _I),
        ("occurred_at", _S),
        ("payload", _PAYLOAD),
    ]
)
_PARSE = pajson.ParseOptions(explicit_schema=_ENVELOPE, unexpected_field_behavior="ignore")
_OPEN, _CLOSE = ord("{"), ord("}")
_CANONICAL_INSTANT = r"^[12]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
# Fields the strict decoder reads, per event type: a null in any of them (absent in the
# JSON) sends the event to the strict path, which names what is wrong.
_SUMMARY = ("version", "distinct_items", "items_value", "items_held")
_REQUIRED: dict[str, tuple[str, ...]] = {
    PLAYER_CREATED: (
        "player_id", "username", "player_class", "gold", "capacity", "items", *_SUMMARY,
    ),
    TRADE_ACCEPTED: ("trade_id", "player_1", "player_2"),
    TRADE_REJECTED: ("trade_id", "reason", "player_1", "player_2"),
}  # fmt: skip
_REQUIRED_OF_SIDE: dict[str, tuple[str, ...]] = {
    TRADE_ACCEPTED: ("player_id", "gold", "items", "gold_after", "items_after", *_SUMMARY),
    TRADE_REJECTED: ("player_id", "gold"),
}
_LIST_FIELDS = {"items": ("item_id", "quantity"), "items_after": ("item_id", "quantity")}
_ACCEPTED_ITEMS = ("item_id", "quantity", "value")


_SCHEMAS = SCHEMAS_WITH_INDEX


@dataclass(slots=True)
class DecodedBatch:
    """A micro-batch decoded: per table, its rows with `EVENT_INDEX`; per event, its id and
    date (None for a dead letter)."""

    tables: dict[str, pa.Table]
    event_ids: list[str | None]
    event_dates: list[str | None]
    dead_letters: int = 0
    strict_events: int = 0  # how many events took the strict path (for tests and tuning)


@dataclass(slots=True)
class _Parts:
    fast: dict[str, list[pa.Table]] = field(default_factory=lambda: {t: [] for t in TABLES})
    strict: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in TABLES})
    strict_index: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in TABLES})


def decode_batch(
    raws: Sequence[bytes],
    sources: Sequence[str],
    positions: Sequence[int],
    received_at: int,
    *,
    fast: bool = True,
) -> DecodedBatch:
    """Decode a batch; `fast=False` decodes every event with the strict decoder."""
    n = len(raws)
    out = DecodedBatch({}, [None] * n, [None] * n)
    parts = _Parts()
    strict: list[int] = []
    if fast:
        eligible: list[int] = []
        joined = _screen(raws, 0, n, eligible, strict) if n else None
        envelopes, refused = _parse(raws, eligible, joined)
        strict += refused
        if envelopes is not None:
            strict += _fast_rows(envelopes, sources, positions, out, parts)
    else:
        strict = list(range(n))
    strict.sort()
    for i in strict:
        try:
            event = event_rows(raws[i], sources[i], positions[i])
        except MalformedEvent as exc:
            row = dead_letter_row(raws[i], sources[i], positions[i], str(exc), received_at)
            parts.strict[DEAD_LETTERS].append(row)
            parts.strict_index[DEAD_LETTERS].append(i)
            out.dead_letters += 1
            continue
        out.event_ids[i], out.event_dates[i] = event.event_id, event.event_date
        for table, rows in event.rows.items():
            parts.strict[table] += rows
            parts.strict_index[table] += [i] * len(rows)
    out.strict_events = len(strict)
    for table in TABLES:
        pieces = parts.fast[table]
        if parts.strict[table]:
            rows = to_arrow(table, parts.strict[table])
            index = pa.array(parts.strict_index[table], pa.int64())
            pieces.append(rows.append_column(EVENT_INDEX, index).cast(_SCHEMAS[table]))
        out.tables[table] = _in_batch_order(table, pieces)
    return out


def _plain(raws: Sequence[bytes], joined: bytes) -> bool:
    """True when Arrow's JSON reader and orjson are known to agree on all these bodies
    (`joined` = them joined by newlines): each one `{...}` on one line (so Arrow's row count
    aligns with the batch), valid UTF-8, no NaN or Infinity (Arrow accepts them in fields it
    ignores; orjson refuses them), none deep enough to reach orjson's nesting limit (1024).
    A few C-level scans per block instead of Python work per event."""
    if joined.count(b"\n") != len(raws) - 1 or b"\r" in joined:  # a newline inside a body
        return False
    # Each body's first and last byte, found in `joined` from the lengths (copying the
    # bodies into an Arrow array to ask the same costs more than the JSON checks below).
    lengths = np.fromiter(map(len, raws), np.int64, len(raws))
    if lengths.min() < 2:
        return False
    stops = np.cumsum(lengths + 1) - 1  # one past each body: its newline, or the end
    text = np.frombuffer(joined, np.uint8)
    if not (text[stops - lengths] == _OPEN).all() or not (text[stops - 1] == _CLOSE).all():
        return False
    # One-byte scans first: the words are rare, the capitals almost absent from events.
    if (b"N" in joined and b"NaN" in joined) or (b"I" in joined and b"Infinity" in joined):
        return False
    if not joined.isascii():
        try:
            joined.decode()
        except UnicodeDecodeError:
            return False
    if lengths.max() < 1000:
        return True
    return all(len(raw) < 1000 or raw.count(b"[") + raw.count(b"{") < 1000 for raw in raws)


def _screen(
    raws: Sequence[bytes], start: int, stop: int, eligible: list[int], strict: list[int]
) -> bytes | None:
    """Split [start, stop) into events for the fast path and the rest, halving blocks that
    fail `_plain` so one odd event costs a few scans, not one per event of the batch.
    Returns the joined bodies when the whole range is eligible (the parser's input)."""
    block = raws[start:stop]
    joined = b"\n".join(block)
    if _plain(block, joined):
        eligible += range(start, stop)
        return joined
    if stop - start == 1:
        strict.append(start)
    else:
        middle = (start + stop) // 2
        _screen(raws, start, middle, eligible, strict)
        _screen(raws, middle, stop, eligible, strict)
    return None


def _in_batch_order(table: str, pieces: list[pa.Table]) -> pa.Table:
    if not pieces:
        return _SCHEMAS[table].empty_table()
    if len(pieces) == 1:
        return pieces[0]
    merged = pa.concat_tables(pieces)
    # Stable: an event's rows keep their order (player 1 before player 2), as event_rows has.
    return merged.take(pc.sort_indices(merged.column(EVENT_INDEX)))


def _parse(
    raws: Sequence[bytes], eligible: list[int], joined: bytes | None
) -> tuple[pa.Table | None, list[int]]:
    """Parse the eligible bodies in as few blocks as Arrow accepts (`joined`: all of them,
    already joined); (envelopes with EVENT_INDEX, indices Arrow refused one by one)."""
    blocks: list[pa.Table] = []
    refused: list[int] = []
    pending = [(0, len(eligible))] if eligible else []
    while pending:
        start, stop = pending.pop()
        indices = eligible[start:stop]
        if joined is None or stop - start != len(eligible):
            joined = b"\n".join([raws[i] for i in indices])
        parsed = _parse_block(joined, len(indices))
        joined = None
        if parsed is not None:
            blocks.append(parsed.append_column(EVENT_INDEX, pa.array(indices, pa.int64())))
        elif stop - start == 1:
            refused.append(indices[0])
        else:
            middle = (start + stop) // 2
            pending += [(middle, stop), (start, middle)]
    if not blocks:
        return None, refused
    return pa.concat_tables(blocks), refused


def _parse_block(joined: bytes, n: int) -> pa.Table | None:
    try:
        parsed = pajson.read_json(pa.BufferReader(joined), parse_options=_PARSE)
    except pa.ArrowException:
        return None
    return parsed if parsed.num_rows == n else None


def _valid(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.is_valid(values)


def _lists_whole(lists: pa.Array, fields: tuple[str, ...]) -> pa.Array:
    """Per row: the list is present and every element is an object with every field."""
    whole = _valid(lists)
    flat = pc.list_flatten(lists)
    bad = pc.invert(_valid(flat))
    for name in fields:
        bad = pc.or_(bad, pc.invert(_valid(pc.struct_field(flat, name))))
    if pc.any(bad).as_py():
        parents = pc.filter(pc.list_parent_indices(lists), bad)
        rows = pa.array(range(len(lists)), pa.int64())
        whole = pc.and_(whole, pc.invert(pc.is_in(rows, value_set=parents)))
    return whole


def _accepted_by_fast_path(env: pa.Table) -> pa.Array:
    """Per row: every field the strict decoder reads is present and well-formed."""
    event_type = env.column("event_type")
    event_id = env.column("event_id")
    ok = pc.and_(
        pc.and_(_valid(event_id), pc.greater(pc.binary_length(event_id), 0)),
        pc.and_(
            pc.equal(env.column("schema_version"), 1),
            pc.match_substring_regex(env.column("occurred_at"), _CANONICAL_INSTANT),
        ),
    )
    payload = env.column("payload")
    by_type = pa.array([False] * env.num_rows)
    for kind, required in _REQUIRED.items():
        fine = pc.equal(event_type, kind)
        for name in required:
            values = pc.struct_field(payload, name)
            whole = _lists_whole(values, _LIST_FIELDS[name]) if name == "items" else None
            fine = pc.and_(fine, whole if whole is not None else _valid(values))
        for side in ("player_1", "player_2"):
            sides = pc.struct_field(payload, side)
            if kind == TRADE_ACCEPTED:  # a fee lands in trade_fees: the strict path's work
                fine = pc.and_(fine, pc.invert(_valid(pc.struct_field(sides, "fee"))))
            for name in _REQUIRED_OF_SIDE.get(kind, ()):
                values = pc.struct_field(sides, name)
                if name == "items" and kind == TRADE_ACCEPTED:
                    fine = pc.and_(fine, _lists_whole(values, _ACCEPTED_ITEMS))
                elif name in _LIST_FIELDS:
                    fine = pc.and_(fine, _lists_whole(values, _LIST_FIELDS[name]))
                else:
                    fine = pc.and_(fine, _valid(values))
        by_type = pc.or_(by_type, fine)
    return pc.fill_null(pc.and_(ok, by_type), False)


def _fast_rows(
    envelopes: pa.Table,
    sources: Sequence[str],
    positions: Sequence[int],
    out: DecodedBatch,
    parts: _Parts,
) -> list[int]:
    """Assemble the tables from the envelopes the fast path vouches for; returns the
    indices of the rest (for the strict path)."""
    accepted = _accepted_by_fast_path(envelopes)
    env, rest = envelopes, []
    if not pc.all(accepted).as_py():
        rest = envelopes.column(EVENT_INDEX).filter(pc.invert(accepted)).to_pylist()
        env = envelopes.filter(accepted)
    instants = env.column("occurred_at")
    try:
        at = instants.cast(TIMESTAMP)
    except pa.ArrowInvalid:
        # A canonical-looking instant that is no date (2026-02-30): find it the slow way.
        loose = [_calendar_valid(s) for s in instants.to_pylist()]
        mask = pa.array(loose)
        rest += env.column(EVENT_INDEX).filter(pc.invert(mask)).to_pylist()
        env = env.filter(mask)
        instants = env.column("occurred_at")
        at = instants.cast(TIMESTAMP)
    if env.num_rows == 0:
        return rest
    index = env.column(EVENT_INDEX)
    event = {
        "index": index,
        "at": at,
        "event_id": env.column("event_id"),
        "event_date": pc.utf8_slice_codeunits(instants, 0, 10),  # canonical form is UTC
        "source": pc.take(pa.array(sources, pa.string()), index),
        "position": pc.take(pa.array(positions, pa.int64()), index),
    }
    ids, days = event["event_id"].to_pylist(), event["event_date"].to_pylist()
    positions_of = index.to_pylist()
    if env.num_rows == len(out.event_ids) and positions_of == list(range(env.num_rows)):
        out.event_ids, out.event_dates = ids, days  # the usual batch: all on the fast path
    else:
        for i, eid, day in zip(positions_of, ids, days, strict=True):
            out.event_ids[i], out.event_dates[i] = eid, day
    event_type = env.column("event_type")
    payload = env.column("payload")
    for kind, assemble in ASSEMBLERS.items():
        mask = pc.equal(event_type, kind)
        if pc.any(mask).as_py():
            subset = {name: pc.filter(col, mask) for name, col in event.items()}
            for table, piece in assemble(Payload(payload, mask), subset).items():
                parts.fast[table] += piece
    return rest


def _calendar_valid(text: str) -> bool:
    try:
        pa.array([text]).cast(TIMESTAMP)
    except pa.ArrowInvalid:
        return False
    return True
