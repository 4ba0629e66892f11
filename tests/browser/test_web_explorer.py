"""The web explorer in a real headless Chromium against a real 4-node network (in process,
real HTTP on loopback): pages load, links lead where they say, a committed block appears
without a reload, hostile member attributes are shown as text, the ledger check runs, the
audit filters work, and the page fits a phone's width. No console errors (CSP violations
included) on any page."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crypto.groups import load_group
from tests.client.live_network import LiveNetwork, live_network
from tests.node.http.sample_chain import HOSTILE, SampleChain, build_sample, register_one

pytestmark = pytest.mark.browser

#: Bound on anything the page should show soon (a poll is 1 s); polled, never slept.
PATIENCE = 30.0


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNetwork]:
    with live_network(tmp_path_factory.mktemp("web") / "net", 4, threshold=3) as running:
        yield running


@pytest.fixture(scope="module")
def sample(live: LiveNetwork) -> SampleChain:
    return build_sample(live, load_group("mcl"))


class Page:
    """The driver with the few moves these tests make. Text and rows are read with one script
    call each, so a re-render between two WebDriver calls cannot leave a stale element."""

    def __init__(self, driver: Any, base: str, screenshots: Path | None) -> None:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.base = base
        self.by = By
        self.wait = WebDriverWait(
            driver, PATIENCE, poll_frequency=0.05,
            ignored_exceptions=[StaleElementReferenceException],
        )
        self.screenshots = screenshots

    def open(self, fragment: str = "#/") -> None:
        self.driver.get(f"{self.base}/explorer{fragment}")

    def css(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements(self.by.CSS_SELECTOR, selector))

    def read(self, selector: str) -> str | None:
        """The text of the first element matching ``selector`` now, or None."""
        text = self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
            selector,
        )
        return None if text is None else str(text)

    def text(self, selector: str) -> str:
        """The text of the first element matching ``selector``, once there is one."""
        return str(self.wait.until(lambda _: self.read(selector)))

    def heading(self, starts: str) -> str:
        """The page's heading, once it starts with ``starts``."""
        self.wait.until(lambda _: (self.read("main h1") or "").startswith(starts))
        return self.text("main h1")

    def click(self, selector: str) -> None:
        """Click the first match as a user would (retried while the page re-renders)."""

        def clicked(_: Any) -> bool:
            found = self.css(selector)
            if not found:
                return False
            found[0].click()
            return True

        self.wait.until(clicked)

    def rows(self, selector: str) -> list[list[str]]:
        """The cells of the body rows of the first table matching ``selector``."""
        rows = self.driver.execute_script(
            """const t = document.querySelector(arguments[0]);
               if (!t) return [];
               return Array.from(t.querySelectorAll("tbody tr"))
                 .map((r) => Array.from(r.cells).map((c) => c.innerText));""",
            selector if selector.endswith("table") else f"{selector} table",
        )
        return [[str(cell) for cell in row] for row in rows]

    def snap(self, name: str) -> None:
        """Save the whole page as ``name``.png when screenshots were asked for."""
        if self.screenshots is None:
            return
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        (self.screenshots / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


@pytest.fixture
def page(driver: Any, live: LiveNetwork, sample: SampleChain,
         screenshots: Path | None) -> Iterator[Page]:
    page = Page(driver, live.url, screenshots)
    driver.get_log("browser")  # start each test with an empty console
    yield page
    errors = [
        e["message"] for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "status of 404" not in e["message"]
    ]
    assert not errors, errors


def test_blocks_come_newest_first_and_a_new_block_appears_without_reload(
    page: Page, live: LiveNetwork
) -> None:
    page.open()
    page.heading("Latest blocks")
    page.wait.until(lambda _: page.text("#height") not in ("", "…"))
    rows = page.rows("#blocks")
    heights = [int(r[0]) for r in rows]
    assert heights == sorted(heights, reverse=True)
    assert heights[0] == int(page.text("#height"))
    assert all(r[2].isdigit() for r in rows)  # tx counts
    page.snap("blocks")
    page.driver.execute_script("window.__same_page = true")

    _, height = register_one(live, load_group("mcl"), ["role:visitor"])
    page.wait.until(lambda _: page.css(f'#blocks tr[data-key="{height}"]'))
    page.wait.until(lambda _: page.text("#height") == str(height))
    assert page.driver.execute_script("return window.__same_page") is True
    assert int(page.rows("#blocks")[0][0]) == height


def test_links_lead_from_a_block_to_its_request_record_and_member(
    page: Page, live: LiveNetwork, sample: SampleChain
) -> None:
    page.open()
    page.heading("Latest blocks")
    with _api(live) as api:
        height = api.get(f"/tx/{sample.granted_request}").json()["height"]
    page.click(f'#blocks tr[data-key="{height}"] a')
    page.heading(f"Block {height}")
    page.snap("block")
    page.click(f'a[href="#/tx/{sample.granted_request}"]')
    assert page.heading("AccessRequest") == "AccessRequest"
    page.wait.until(lambda _: "granted" in page.text("dl.kv"))
    page.click(f'main a[href="#/record/{sample.record_id.hex()}"]')
    page.heading("Record")
    assert page.text("#policy") == "role:doctor"
    body = page.text("main")
    assert "3 of 4 rebuild" in body
    # A policy record is opened by its policy, with no grant: the doctor once.
    assert "Grants (0)" in body
    assert "1 granted so far" in body
    page.snap("record")
    page.click(f'main table a[href="#/member/{sample.doctor.member_id.hex()}"]')
    page.heading("Member")
    page.snap("member")


def test_hostile_attributes_are_shown_as_text(page: Page, sample: SampleChain) -> None:
    page.open(f"#/member/{sample.doctor.member_id.hex()}")
    page.heading("Member")
    page.wait.until(lambda _: HOSTILE in page.text("#attributes"))
    # Nothing of it became markup: no element was made from it, and none of it ran.
    assert not page.css("main script, main img, main b")
    assert page.driver.execute_script("return window.__pwned") is None
    chain = page.rows("main table")
    assert [row[0] for row in chain] == ["0", "1"]
    assert chain[1][3] == "moved to <b>cardiology</b>"
    page.open("#/members")
    page.heading("Members")
    page.wait.until(lambda _: HOSTILE in page.text("main table"))
    assert not page.css("main script, main img")
    assert page.driver.execute_script("return window.__pwned") is None


def test_the_audit_chain_shows_both_decisions_and_filters(
    page: Page, sample: SampleChain
) -> None:
    page.open("#/audit")
    page.heading("Sharing-audit chain")
    page.wait.until(lambda _: len(page.rows("main table")) == 2)
    decisions = [row[2] for row in page.rows("main table")]
    assert decisions == ["granted", "denied"]
    page.snap("audit")
    field = page.css('#audit-filter input[name="requester"]')[0]
    field.send_keys(sample.stranger.member_id.hex())
    page.click('#audit-filter button[type="submit"]')
    page.wait.until(lambda _: "requester=" in page.driver.current_url)
    page.wait.until(lambda _: len(page.rows("main table")) == 1)
    assert page.rows("main table")[0][2] == "denied"


def test_peers_and_the_ledger_check(page: Page) -> None:
    page.open("#/peers")
    page.heading("Peers")
    page.wait.until(lambda _: len(page.rows("main table")) == 3)
    assert [row[2] for row in page.rows("main table")] == ["connected"] * 3
    page.snap("peers")
    page.open("#/verify")
    page.heading("Ledger check")
    page.click("#verify-run")
    page.wait.until(lambda _: "OK" in page.text("#verify-result"))
    assert "intact" in page.text("#verify-result")
    page.snap("verify")


def test_search_goes_to_what_an_id_names(page: Page, sample: SampleChain) -> None:
    page.open()
    page.heading("Latest blocks")
    page.css("#q")[0].send_keys(sample.record_id.hex() + "\n")
    page.heading("Record")
    page.css("#q")[0].clear()
    page.css("#q")[0].send_keys("2\n")
    page.heading("Block 2")
    page.open(f"#/find/{'ab' * 32}")
    page.heading("Not found")


def test_pages_fit_a_phone(page: Page, sample: SampleChain) -> None:
    page.driver.set_window_size(390, 844)
    try:
        for fragment, heading in (
            ("#/", "Latest blocks"),
            (f"#/record/{sample.record_id.hex()}", "Record"),
            ("#/audit", "Sharing-audit chain"),
        ):
            page.open(fragment)
            page.heading(heading)
            # Wide tables scroll inside their box; the page itself never scrolls sideways.
            overflow = page.driver.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, (fragment, overflow)
        page.open("#/")
        page.heading("Latest blocks")
        page.css("#q")[0].clear()
        page.snap("phone-blocks")
    finally:
        page.driver.set_window_size(1280, 900)


def _api(live: LiveNetwork) -> Any:
    import httpx

    return httpx.Client(base_url=live.url, timeout=30)
