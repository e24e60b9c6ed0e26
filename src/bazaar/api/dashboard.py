"""`/dashboard`: the economy live, for `bazaar serve --lake PATH` and `bazaar demo`.

The page (static/dashboard.html) polls `/dashboard/data` every second; the figures come
from the lake (analytics/live.py), the freshness from the store (how old the oldest event
the lake lacks is). Its only script, plotly.js, comes from the `plotly` package and is
served here, so the page needs no other host.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bazaar.analytics.live import LiveEconomy
from bazaar.domain.errors import AnalyticsError
from bazaar.lake.sources import lake_consumer
from bazaar.store.base import Store
from bazaar.telemetry.metrics import lag_seconds


def plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def dashboard_routes(lake: str, store: Store) -> list[BaseRoute]:
    from bazaar.api.answers import JSON

    live = LiveEconomy(lake, store.catalog)
    consumer = lake_consumer(lake)  # the name this lake's follower records its position under
    page = files("bazaar.api").joinpath("static/dashboard.html").read_text("utf-8")

    async def dashboard(request: Request) -> Response:
        return HTMLResponse(page)

    async def data(request: Request) -> Response:
        try:
            figures = dict(await run_in_threadpool(live.figures))
        except AnalyticsError as exc:  # e.g. no lake yet: the page says so and retries
            return JSON({"reason": "lake_unavailable", "detail": str(exc)}, status_code=503)
        figures["freshness_seconds"] = round(
            await run_in_threadpool(lag_seconds, store, consumer), 1
        )
        return JSON(figures, headers={"Cache-Control": "no-store"})

    async def script(request: Request) -> Response:
        return FileResponse(plotly_js(), media_type="text/javascript")

    return [
        Route("/dashboard", dashboard, methods=["GET"]),
        Route("/dashboard/data", data, methods=["GET"]),
        Route("/dashboard/assets/plotly.min.js", script, methods=["GET"]),
    ]
