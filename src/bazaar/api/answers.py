"""How every handler answers: JSON bodies rendered by orjson, and the guard that turns
every error into a JSON answer from the one table in api/errors.py (never a bare 500)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from bazaar.api.errors import error_body, from_validation_error, http_answer
from bazaar.api.limits import drops
from bazaar.domain.errors import BazaarError, StoreUnavailable

log = logging.getLogger("bazaar.api")

_JSON_TYPE = (b"content-type", b"application/json")


class JSON(Response):
    """A JSON answer: Starlette's Response, with the body rendered by orjson and the two
    headers every answer has built directly (no header mapping to normalise; Response's own
    __init__, render and media_type are not used)."""

    def __init__(
        self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body = orjson.dumps(content)
        raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        if status_code >= 200 and status_code not in (204, 304):
            raw.append((b"content-length", b"%d" % len(body)))
        raw.append(_JSON_TYPE)
        self.raw_headers = raw


def error_answer(error: BazaarError) -> JSON:
    answer = http_answer(error)
    body = error_body(error)
    if isinstance(error, StoreUnavailable):
        # The cause names hosts, ports and driver errors: the log's business, not a client's.
        log.warning("store unavailable: %s", error.detail)
        body["detail"] = f"store unavailable; retry after {error.retry_after} s"
    return JSON(body, status_code=answer.status, headers=answer.headers(error))


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """Every error becomes a JSON answer from the one status table; never a bare 500."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ValidationError as exc:
            body, status = from_validation_error(exc)
            return JSON(body, status_code=status)
        except BazaarError as exc:
            return error_answer(exc)
        except ClientDisconnect:
            # The client hung up mid-body: nothing to answer and nothing went wrong here.
            drops.client_disconnects += 1
            log.debug("client left during %s %s", request.method, request.url.path)
            return Response(status_code=400)  # never delivered
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            return JSON(
                {"reason": "internal_error", "detail": "unexpected server error"}, status_code=500
            )

    return run
