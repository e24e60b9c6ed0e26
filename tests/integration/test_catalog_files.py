"""Catalog files on disk: `--catalog PATH` reads one, and a file that cannot be read is a
CatalogError saying so. (The checks of a catalog's content are pure: tests/unit.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bazaar.domain.catalog import Catalog, load_catalog
from bazaar.domain.errors import CatalogError


def test_catalog_file_by_path(tmp_path: Path, catalog: Catalog) -> None:
    doc = catalog.to_document()
    doc["items"][0]["value"] = 77
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc))
    assert load_catalog(path).items[1].value == 77


def test_missing_catalog_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "none.json")
