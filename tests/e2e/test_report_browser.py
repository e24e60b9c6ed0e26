"""The report in a real browser (Debian's chromium, headless, driven by playwright), opened
from disk with every request outside the file refused: every chart is drawn, with its axis
titles, and the page asks for nothing from another host."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bazaar.bootstrap import open_store
from bazaar.domain.catalog import load_catalog
from tests.support.lake_builder import accepted, ingest, player, trade

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_report_draws_every_chart_offline(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "chromium is missing: apt-get install -y chromium"
    store = open_store(f"sqlite:///{tmp_path / 'b.db'}", load_catalog())
    a = player(store, "farmer", "ann").player_id
    b = player(store, "banker", "ben").player_id
    for n in range(1, 6):
        accepted(trade(store, a, b, items_1=[(5, n)], gold_2=3 * n))
    ingest(store, tmp_path / "lake")
    store.close()
    out = tmp_path / "report.html"
    subprocess.run(
        [sys.executable, "-m", "bazaar", "report", "--lake", str(tmp_path / "lake"),
         "--out", str(out)], check=True, capture_output=True, timeout=180,
    )  # fmt: skip

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        elsewhere: list[str] = []

        def refuse_the_network(route: Any) -> None:
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", refuse_the_network)
        page.goto(out.as_uri())
        charts = page.locator("div.chart").count()
        assert charts >= 10
        page.wait_for_function(
            f"document.querySelectorAll('div.chart .main-svg').length >= {charts}",
            timeout=30_000,
        )
        drawn = page.eval_on_selector_all("div.chart", "els => els.map(e => e.textContent)")
        assert not [t for t in drawn if t.startswith("chart failed")]
        x_titles = page.eval_on_selector_all(".g-xtitle", "els => els.map(e => e.textContent)")
        y_titles = page.eval_on_selector_all(".g-ytitle", "els => els.map(e => e.textContent)")
        assert len(x_titles) == charts and len(y_titles) >= charts
        assert "gold pieces" in y_titles and any("buckets)" in t for t in x_titles)
        assert elsewhere == [], f"the report asked other hosts for {elsewhere}"
        browser.close()
