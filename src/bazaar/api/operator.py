"""What the API shows its operator beside the game: /metrics, /docs, and the dashboard.

`/docs` is Swagger UI from the `swagger-ui-bundle` package, served by this app under
/docs/assets, so the page works on a machine with no route to the internet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bazaar.store.base import Store
from bazaar.telemetry.metrics import CONTENT_TYPE, ApiMetrics, PipelineGauges, exposition

DOCS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>bazaar API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
<noscript>The machine-readable API description is at <a href="/openapi.json">/openapi.json</a>.
</noscript></body></html>
"""


def swagger_ui_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(swagger_ui_path)


def operator_routes(
    store: Store, metrics: ApiMetrics, *, consumers: Sequence[str], lake: str | None
) -> list[BaseRoute]:
    gauges = PipelineGauges(store, consumers)

    async def scrape(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        metrics.flush()  # on the loop that records them, so no request is half counted
        text = await run_in_threadpool(exposition, metrics, gauges)  # reads the store
        return Response(text, media_type=CONTENT_TYPE)

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_HTML)

    routes: list[BaseRoute] = [
        Route("/metrics", scrape, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount("/docs/assets", StaticFiles(directory=swagger_ui_dir()), name="docs-assets"),
    ]
    if lake is not None:
        from bazaar.api.dashboard import dashboard_routes

        routes += dashboard_routes(lake, store)
    return routes
