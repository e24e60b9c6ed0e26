"""`--metrics-port` for the long-running pipeline commands (relay, ingest): a small HTTP
server on its own thread answering Prometheus scrapes with figures read at scrape time."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

# name -> (help, kind, {labels tuple: value}); kind is "counter" or "gauge"
Figures = Mapping[str, tuple[str, str, Mapping[tuple[tuple[str, str], ...], float]]]


def add_metrics_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        metavar="[HOST:]PORT",
        help="serve Prometheus metrics on this port (default host 127.0.0.1; 0.0.0.0 for"
        " a scraper on another machine), e.g. --metrics-port 9101",
    )


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--metrics-port expects [HOST:]PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


class _Callback:
    def __init__(self, read: Callable[[], Figures]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for name, (help_text, kind, values) in self.read().items():
            labels = sorted({k for key in values for k, _ in key})
            family_type = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = family_type(name, help_text, labels=labels)
            for key, value in values.items():
                family.add_metric([dict(key)[k] for k in labels], value)
            yield family


def start_exporter(address: str, read: Callable[[], Figures]) -> str:
    """Serve `read()`'s figures at http://HOST:PORT/metrics; returns that URL."""
    from prometheus_client import CollectorRegistry, start_http_server

    host, port = parse_address(address)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Callback(read))  # type: ignore[arg-type]
    start_http_server(port, addr=host, registry=registry)
    return f"http://{host}:{port}/metrics"


def one(value: float | None) -> dict[tuple[tuple[str, str], ...], float]:
    return {} if value is None else {(): float(value)}


def by(label: str, values: Mapping[str, float]) -> dict[tuple[tuple[str, str], ...], float]:
    return {((label, k),): float(v) for k, v in values.items()}
