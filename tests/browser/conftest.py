"""A real headless Chromium driven by Selenium through the system's chromedriver.

Debian's ``chromium`` and ``chromium-driver`` come from one source package, so the driver always
matches the browser, and Selenium is told where the driver is, so it never tries to download one
(Selenium Manager is skipped). Without them the browser tests are skipped with the reason,
except under ``CI=true``, where a missing browser is a failure: ``.ci/run`` installs it.

``IOMTSHARE_SCREENSHOTS=DIR`` makes the tests save screenshots of the main pages into ``DIR``
(``docs/screenshots`` holds the committed ones).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)
#: Desktop window; the phone test resizes.
WINDOW = (1280, 900)


def _first(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI the browser tests must run (.ci/run installs it)")
    pytest.skip(f"{reason} (apt-get install chromium chromium-driver; see README)")


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    browser, chromedriver = _first(BROWSERS), _first(DRIVERS)
    if browser is None or chromedriver is None:
        _missing("no chromium and chromedriver on PATH")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[dev]')")
    assert browser is not None
    assert chromedriver is not None
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root in CI, where the sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--lang=en-US",
        "--force-device-scale-factor=1",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=chromedriver, log_output=str(profile / "chromedriver.log"))
    chrome = webdriver.Chrome(options=options, service=service)
    try:
        chrome.set_window_size(*WINDOW)
        chrome.set_page_load_timeout(60)
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture(scope="session")
def screenshots() -> Path | None:
    """Where to save screenshots (``IOMTSHARE_SCREENSHOTS``), or None."""
    target = os.environ.get("IOMTSHARE_SCREENSHOTS")
    if not target:
        return None
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path
