"""The report in a real browser: Debian's chromium, headless, driven over its protocol.

The page must load with no console error and no network request, and every chart must
have drawn something. The test keeps a screenshot in docs/report.png (the README shows it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ragsight._viewer.report import CHARTS

REPO = Path(__file__).resolve().parents[3]
SCREENSHOT = REPO / "docs" / "report.png"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Pixels of each chart's canvas that are not transparent: axes alone draw some, so the
# check below also asks ECharts whether a series holds data.
DRAWN = """el => {
  const canvas = el.querySelector('canvas');
  if (!canvas || !canvas.width || !canvas.height) return {pixels: 0, data: 0};
  const ctx = canvas.getContext('2d');
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let pixels = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) pixels++;
  const chart = echarts.getInstanceByDom(el);
  const series = chart ? chart.getOption().series : [];
  const data = series.reduce((n, s) => n + ((s.data || []).length), 0);
  return {pixels, data};
}"""


def _chromium() -> str:
    found = os.environ.get("RAGSIGHT_CHROMIUM") or shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: scripts/install-test-deps installs it")
        pytest.skip("chromium is not installed (scripts/install-test-deps installs it)")
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report the demo writes, as a user gets it."""
    cwd = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    subprocess.run(
        [sys.executable, "-m", "ragsight.cli", "demo"],  # full speed: real latencies
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return cwd / "ragsight-telemetry" / "report.html"


@pytest.fixture(scope="module")
def page(report: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            args=FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1720},
        )
        try:
            tab = context.new_page()
            tab.problems = []  # console errors, page errors, network requests
            tab.on(
                "console",
                lambda m: (
                    tab.problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            tab.on("pageerror", lambda e: tab.problems.append(f"page error: {e}"))
            tab.on(
                "request",
                lambda r: (
                    tab.problems.append(f"request {r.url}")
                    if not r.url.startswith(("file:", "data:", "about:"))
                    else None
                ),
            )
            tab.goto(report.as_uri())
            tab.wait_for_selector("body[data-charts]", timeout=30_000)
            yield tab
        finally:
            context.close()


def test_the_page_loads_without_console_errors_or_network(page: Any) -> None:
    assert page.problems == []


def test_every_chart_has_rendered_content(page: Any) -> None:
    charts = page.query_selector_all(".chart, .waterfall")
    waterfalls = page.evaluate("JSON.parse(document.getElementById('report-data').textContent)")
    assert len(charts) == len(CHARTS) + len(waterfalls["waterfalls"])
    assert int(page.get_attribute("body", "data-charts")) == len(charts)
    for chart in charts:
        drawn = chart.evaluate(DRAWN)
        assert drawn["pixels"] > 500, chart.get_attribute("id")
        assert drawn["data"] > 0, chart.get_attribute("id")


def test_the_screenshot_is_kept_for_the_readme(page: Any) -> None:
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
