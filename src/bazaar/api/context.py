"""What every handler works with: one small object built by `create_app` and passed to
the module-level handlers (api/players.py, api/offers.py) as their first argument."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bazaar.api.answers import Handler, guarded
from bazaar.api.auth import AuthPolicy, Caller
from bazaar.api.batching import TradeBatcher
from bazaar.domain.catalog import Catalog
from bazaar.domain.grants import DEFAULT_REASONS
from bazaar.store.base import Store
from bazaar.telemetry.metrics import ApiMetrics

if TYPE_CHECKING:
    from bazaar.lake.archive import LakeArchive

HealthProvider = Callable[[], dict[str, Any]]  # extra /health sections, e.g. {"relay": ...}


@dataclass(slots=True)
class ApiContext:
    store: Store
    catalog: Catalog
    auth: AuthPolicy
    metrics: ApiMetrics
    batcher: TradeBatcher
    draw: random.Random
    health_provider: HealthProvider | None = None
    archive: LakeArchive | None = None
    # the reasons grants and consumptions may give (serve --adjustment-reasons)
    reasons: tuple[str, ...] = DEFAULT_REASONS

    async def reader(self, request: Request) -> Caller:
        """Who reads: anyone when auth is off; else a credential (a token is a store read,
        kept off the event loop)."""
        if not self.auth.enabled:
            return self.auth.authenticate(request, self.store)
        return await run_in_threadpool(self.auth.authenticate, request, self.store)

    async def writer(self, request: Request) -> Caller:
        """Who writes, authenticated in the thread pool (a token is a store read)."""
        return await run_in_threadpool(self.auth.authenticate, request, self.store)

    def handler(self, endpoint: Callable[..., Awaitable[Response]], *args: Any) -> Handler:
        """`endpoint(self, *args, request)`, guarded, as a Starlette endpoint."""
        return guarded(partial(endpoint, self, *args))
