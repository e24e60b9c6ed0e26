"""The API served from a background thread of the current process (the demo, tests)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn

from bazaar.api.app import create_app
from bazaar.api.http import OneWriteHttpToolsProtocol
from bazaar.lake.sources import lake_consumer
from bazaar.store.base import Store


class EmbeddedServer:
    """`with EmbeddedServer(store, port) as url:` serves until the block ends."""

    def __init__(
        self, store: Store, port: int, host: str = "127.0.0.1", *, lake: str | None = None
    ) -> None:
        """`lake`: also serve the live dashboard over it (and report its freshness)."""
        app = create_app(store, lake=lake, consumers=[lake_consumer(lake)] if lake else [])
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False,
            log_config=None,  # the logging the command configured (--log-format), untouched
            loop="asyncio", http=OneWriteHttpToolsProtocol, lifespan="off",
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="bazaar-api", daemon=True)
        self.url = f"http://{host}:{port}"

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the API could not start on {self.url}")
            time.sleep(0.01)
        return self.url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
