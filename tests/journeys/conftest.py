"""Fixtures of the journeys: one live site per module (tests.journeys.site), Debian's Chromium, guarded pages.

- `site`: the running site (`site.base_url`, `site.app`, `site.login(steps.OFFICER)`,
  `site.wait_for_mail(to=...)`, `site.run_job("statistics")`, `site.smtp.mails`); `live_server` is
  its base URL.
- `journey`: opens pages (`journey.new_page(phone=True, javascript=False, locale="en-GB")`), each
  in a context of its own; at the end it fails if a page reached was not `steps.checked`, and it
  records the journey's duration (printed at the end of the run, kept in the pytest cache).
- `page` (desktop), `phone_page` (375x812, JavaScript off), `nojs_page`, `english_page`: shortcuts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, require_browser_tools
from tests.journeys.site import JOURNEY_TIMEOUT_MS, Journey, Site, running_site

HERE = Path(__file__).resolve().parent
CALL_FAILED = pytest.StashKey[bool]()
DURATIONS = pytest.StashKey[list[tuple[str, str, str, float]]]()
EXPECT_DEFAULT_MS = 5_000  # Playwright's own, restored after each journey


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test here is a journey in a browser."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.journey)
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The journeys' durations, for the closing note; also kept in the cache (journeys/durations)."""
    durations = config.stash.get(DURATIONS, [])
    if not durations:
        return
    terminalreporter.section("journey durations")
    for nodeid, mode, outcome, seconds in durations:
        terminalreporter.write_line(f"{seconds:7.1f} s  {outcome:9}  {mode:24}  {nodeid}")
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        for mode in {mode for _, mode, _, _ in durations}:
            key = "journeys/durations-" + re.sub(r"[^a-z0-9]+", "-", mode.lower())
            rows = {nodeid: [outcome, round(s, 1)] for nodeid, m, outcome, s in durations if m == mode}
            cache.set(key, rows)


@pytest.fixture(scope="module")
def site(migrated_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The live site of one journey module, seeded by `komma demo`."""
    require_browser_tools()
    with running_site(migrated_database, tmp_path_factory.mktemp("journey")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (never a browser downloaded by `playwright install`)."""
    require_browser_tools()
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def live_server(site: Site) -> str:
    return site.base_url


@pytest.fixture
def journey(browser: Browser, site: Site, request: pytest.FixtureRequest) -> Iterator[Journey]:
    """Pages for one journey; fails it if any page reached was not checked with axe-core."""
    started = time.monotonic()
    opened = Journey(browser, site.base_url)
    expect.set_options(timeout=JOURNEY_TIMEOUT_MS)
    try:
        yield opened
    finally:
        expect.set_options(timeout=EXPECT_DEFAULT_MS)
    seconds = time.monotonic() - started
    unchecked = opened.close()
    failed = request.node.stash.get(CALL_FAILED, True)
    outcome = "failed" if failed else "unchecked" if unchecked else "passed"
    request.config.stash.setdefault(DURATIONS, []).append((request.node.nodeid, site.mode, outcome, seconds))
    if unchecked and not failed:
        pytest.fail(f"pages reached but never checked with axe-core (call steps.checked(page)): {unchecked}")


@pytest.fixture
def page(journey: Journey) -> Page:
    return journey.new_page()


@pytest.fixture
def phone_page(journey: Journey) -> Page:
    """A 375x812 phone with JavaScript switched off."""
    return journey.new_page(phone=True, javascript=False)


@pytest.fixture
def nojs_page(journey: Journey) -> Page:
    return journey.new_page(javascript=False)


@pytest.fixture
def english_page(journey: Journey) -> Page:
    """A desktop browser asking for English."""
    return journey.new_page(locale="en-GB")
