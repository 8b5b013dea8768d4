"""Browser fixtures: the real app served over HTTP in a thread, and Debian's Chromium through Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from clearing.demo import DEMO_SLUG
from core import create_app
from core.devserver import AnonymousRequestHandler
from tests.browser.axe import AXE_JS
from tests.conftest import empty_tables, make_test_config, need_service

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser_tools() -> None:
    """Skip (or fail under KOMMA_TEST_REQUIRE_SERVICES=1) when Chromium or axe-core is missing."""
    if not CHROMIUM.is_file():
        need_service("Chromium", f"{CHROMIUM} is missing (run `make browser-deps`)")
    if not AXE_JS.is_file():
        need_service("Chromium", f"axe-core is missing at {AXE_JS} (run `make browser-deps`)")


@pytest.fixture(scope="module")
def live_app(migrated_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The real app on the migrated test database, with the demo municipality."""
    require_browser_tools()
    application = create_app(make_test_config(migrated_database, tmp_path_factory.mktemp("browser") / "instance"))
    result = application.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    yield application
    empty_tables(application)
    application.extensions["komma"].engine.dispose()


@pytest.fixture(scope="module")
def live_server(live_app: Flask) -> Iterator[str]:
    """The app served by werkzeug on a free port in a background thread; yields the base URL."""
    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, live_app, threaded=True, request_handler=AnonymousRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    require_browser_tools()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless (never a browser downloaded by `playwright install`)."""
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()


def new_context(browser: Browser, base_url: str, **options: Any) -> BrowserContext:
    # bypass_csp only so that the test can inject axe-core: the app's CSP (script-src 'self')
    # rightly refuses the injected script. It exists in this test context only, never in the app.
    context = browser.new_context(base_url=base_url, locale="de-DE", bypass_csp=True, **options)
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    ctx = new_context(browser, live_server)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def nojs_page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A page in a context with JavaScript switched off: everything must still work."""
    ctx = new_context(browser, live_server, java_script_enabled=False)
    yield ctx.new_page()
    ctx.close()


@pytest.fixture
def form_path() -> str:
    return f"/melden/{DEMO_SLUG}"
