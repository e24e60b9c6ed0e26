"""Request bodies: read within the size limit, JSON only, parsed into a strict model.

A body must say `Content-Type: application/json` (a `charset` parameter is allowed): a
`text/plain` or form body is refused with 415 before it is read, so a cross-site HTML form
(which cannot send application/json without a CORS preflight) cannot trade for a browser's
user. A JSON object that names a key twice is refused (422 `duplicate_key`): parsers
disagree on which copy wins, so a proxy and this server could read two different requests.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import ClientDisconnect, Request

from bazaar.api.errors import BodyTooLarge, DuplicateKey, UnsupportedMediaType

MAX_BODY_BYTES = 64 * 1024

Model = TypeVar("Model", bound=BaseModel)


def _check_media_type(request: Request) -> None:
    declared = request.headers.get("content-type")
    if declared is None:
        raise UnsupportedMediaType(
            "a request body needs Content-Type: application/json", field="Content-Type"
        )
    media_type, _, params = declared.partition(";")
    if media_type.strip().lower() != "application/json":
        raise UnsupportedMediaType(
            f"Content-Type {media_type.strip()[:60]!r} is not accepted: send application/json",
            field="Content-Type",
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise UnsupportedMediaType(
                "JSON bodies are UTF-8: charset must be utf-8", field="Content-Type"
            )


async def read_body(request: Request) -> bytes:
    """The whole body (b"" when none was sent); a non-empty body must be JSON by its type."""
    headers = request.headers
    declared = headers.get("content-length")
    if declared is not None:
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise BodyTooLarge(f"request body over {MAX_BODY_BYTES} bytes", field="body")
        if declared != "0":
            _check_media_type(request)
    elif "transfer-encoding" in headers:
        _check_media_type(request)
    # Straight from the ASGI messages (Request.stream() is an async generator per request,
    # a measurable share of POST /trades): usually the whole body is the first message.
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge(f"request body over {MAX_BODY_BYTES} bytes", field="body")
        if not message.get("more_body", False):
            return b"".join([*chunks, chunk]) if chunks else chunk
        chunks.append(chunk)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"key {key[:60]!r} appears twice in one JSON object", field=key)
            seen.add(key)
    return obj


_DUPLICATE_AWARE = json.JSONDecoder(object_pairs_hook=_unique_keys)


def parse_json(model: type[Model], raw: bytes) -> Model:
    """`raw` validated as `model` (pydantic's ValidationError for bad JSON or fields;
    DuplicateKey for a key named twice)."""
    # Not JSON (or not UTF-8): pydantic's parser below says where and why.
    with suppress(UnicodeDecodeError, ValueError):
        _DUPLICATE_AWARE.decode(raw.decode("utf-8"))
    return model.model_validate_json(raw)
