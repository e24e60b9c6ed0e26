from __future__ import annotations

import duckdb
import pytest

from bazaar.analytics.sql import string_literal


@pytest.mark.parametrize(
    "text", ["", "plain", "it's", "''", "C:\\new\\lake", "/tmp/o'brien's lake/trades", "é 漢"]
)
def test_string_literal_reads_back_as_the_same_text_in_duckdb(text: str) -> None:
    # Lake file paths reach DuckDB's read_parquet this way: a quote or a backslash in the
    # path must neither end the literal early nor be read as an escape.
    row = duckdb.connect().execute(f"SELECT {string_literal(text)}").fetchone()
    assert row == (text,)
