"""Debian's Chromium for the browser tests, driven by Playwright for Python.

Playwright's own browser download is never used (``executable_path``). Without Chromium or
Playwright the test skips and says which is missing (``make test`` installs both).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# Where a test run's screenshots go (ignored by git); the ones kept in the repository are
# copied by hand into test-artifacts/screenshots/.
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@contextmanager
def chromium(shots: str | None = None) -> Iterator[Any]:
    """A headless Chromium browser; ``shots`` names the folder under test-artifacts/ that the
    test writes its screenshots to (created)."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install playwright)")
    if shots is not None:
        (ARTIFACTS / shots).mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
