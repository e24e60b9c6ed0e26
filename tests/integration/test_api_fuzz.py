"""Generated requests (schemathesis, from the served OpenAPI document) against a real
`bazaar serve --workers 2` on every store, with and without a server key: no answer is a
5xx, and every answer is one the document lists, in the shape it gives.

Bounded: a few dozen cases per operation, so the whole run stays near a minute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.openapi import from_dict

from tests.support.server import running_server

SERVER_KEY = "bzk_fuzz-key"
EXAMPLES_PER_OPERATION = 25
# What the document promises about answers. Not "schema-valid data is accepted": a valid
# shape may still name an unknown player class or break a game rule (a 4xx by design).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _fuzz(url: str, headers: dict[str, str], log: Path) -> int:
    document = httpx.get(f"{url}/openapi.json").json()
    schema = from_dict(document)
    calls = 0
    with httpx.Client() as client:  # seed a few players so some ids exist
        for _ in range(3):
            client.post(f"{url}/players", json={}, headers=headers)
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            nonlocal calls
            response = case.call(base_url=url, headers=headers)
            calls += 1
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            case.validate_response(response, checks=CHECKS, headers=headers)

        check()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "unexpected error" not in text, text[-3000:]
    return calls


@pytest.mark.parametrize("with_key", [True, False], ids=["server-key", "open"])
def test_generated_requests_never_5xx_and_match_the_document(
    store_url: str, tmp_path: Path, with_key: bool
) -> None:
    extra: list[str] = ["--rate-limit", "off", "--server-rate-limit", "off"]
    headers: dict[str, str] = {}
    if with_key:
        key_file = tmp_path / "keys.txt"
        key_file.write_text(SERVER_KEY + "\n")
        extra += ["--api-key-file", str(key_file)]
        headers["Authorization"] = f"Bearer {SERVER_KEY}"
    log = tmp_path / "serve.log"
    with running_server(store_url, workers=2, extra=extra, log=log) as url:
        assert _fuzz(url, headers, log) >= 15 * 5  # every operation got cases
