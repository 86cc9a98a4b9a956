"""What the web tests share: the local GitHub and the App's key, and one Chromium per module."""

import pytest

from tests.app_harness import app_key, github  # noqa: F401  (fixtures)

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: Chromium refuses its own sandbox as root (CI runs as root); it loads only
        # this test's pages from 127.0.0.1.
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()
