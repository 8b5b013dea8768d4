"""The proof of work in a real browser: static/js/challenge.js solves what the server checks.

This module's app asks for 18 bits (about 2**18 hashes, a second or two here), so that a form sent
at once goes before the search is done: the form then says why it waits and sends itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, Request, expect
from sqlalchemy import func, select

import crypto
from clearing.demo import DEMO_SLUG
from core import create_app
from core.db import session_scope
from reporting.models import SpentChallenge
from tests.browser.conftest import require_browser_tools
from tests.browser.steps import RECEIPT_CODE_RE
from tests.conftest import empty_tables, make_test_config

pytestmark = pytest.mark.browser

BITS = 18
SEARCH_LIMIT_MS = 40_000


@pytest.fixture(scope="module")
def live_app(migrated_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The browser tests' app (tests/browser/conftest.py), asking for more work."""
    require_browser_tools()
    config = make_test_config(migrated_database, tmp_path_factory.mktemp("challenge") / "instance", challenge_bits=BITS)
    application = create_app(config)
    result = application.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    yield application
    empty_tables(application)
    application.extensions["komma"].engine.dispose()


def field(request: Request, name: str) -> str:
    """A field of the multipart or urlencoded body the browser sent."""
    body = request.post_data or ""
    match = re.search(rf'name="{name}"\r\n\r\n([^\r]*)\r\n', body) or re.search(rf"(?:^|&){name}=([^&]*)", body)
    assert match, f"{name} not sent"
    return match.group(1).replace("%3A", ":")


def spent(app: Flask) -> int:
    with session_scope(app.extensions["komma"].session_factory) as session:
        return session.scalar(select(func.count()).select_from(SpentChallenge)) or 0


# Whether the form still lacked its solution when clicked, and what its status said right after.
WAITING_CLICK = """button => {
    const unsolved = button.form.querySelector("input[name=solution]").value === "";
    button.click();
    const status = button.form.querySelector("[data-challenge-status]");
    return [unsolved, status.hidden ? "" : status.textContent];
}"""


def solved_by_the_browser(request: Request) -> None:
    token, solution = field(request, "challenge"), field(request, "solution")
    assert solution, "the form was sent without a solution"
    assert crypto.work_done(token.encode(), solution, BITS)


def test_a_quick_reporter_waits_for_the_search_then_the_form_sends_itself(page: Page, live_app: Flask) -> None:
    before = spent(live_app)
    # Sent at once, before the search can be done: the page says why it waits, then sends itself.
    # (DOMContentLoaded comes right after the deferred script has started its search.)
    page.goto(f"/melden/{DEMO_SLUG}", wait_until="domcontentloaded")
    with page.expect_request(lambda r: r.method == "POST", timeout=SEARCH_LIMIT_MS) as sent:
        # Read, clicked and read again in one turn of the page's event loop, so that the search
        # cannot end in between (a poll afterwards could meet the next page already).
        unsolved, said = page.get_by_role("button", name="Meldung verschlüsselt absenden").evaluate(WAITING_CLICK)
    if unsolved:  # almost always: 2**18 hashes take a second or two here
        assert "kleine Rechenaufgabe" in said
    solved_by_the_browser(sent.value)
    # The form was empty: its errors come back, with a new challenge (each one buys one request).
    expect(page).to_have_title(re.compile(r"^Fehler:"), timeout=SEARCH_LIMIT_MS)
    assert spent(live_app) == before + 1

    page.get_by_role("radio", name="Ich habe es beobachtet").check()
    page.get_by_role("radio", name="Bürgermeisterin oder Bürgermeister").check()
    page.get_by_role("checkbox", name="Hassrede oder Hetze").check()
    page.get_by_label("Beschreiben Sie, was passiert ist").fill("Drohung vor dem Rathaus.")
    page.get_by_role("radio", name="Im öffentlichen Raum").check()
    with page.expect_request(lambda r: r.method == "POST", timeout=SEARCH_LIMIT_MS) as sent:
        page.get_by_role("button", name="Meldung verschlüsselt absenden").click()
    solved_by_the_browser(sent.value)
    # Taken with its code at once: the solved challenge paid, no budget did.
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Meldung ist eingegangen", timeout=SEARCH_LIMIT_MS)
    code = page.get_by_test_id("receipt-code").inner_text().strip()
    assert RECEIPT_CODE_RE.match(code), code
    assert spent(live_app) == before + 2

    # The mailbox login solves its own challenge too.
    page.get_by_role("button", name="Ich habe den Code notiert").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Postfach")
    page.get_by_label("Ihr Zugangscode").fill(code)
    with page.expect_request(lambda r: r.method == "POST", timeout=SEARCH_LIMIT_MS) as login:
        page.get_by_role("button", name="Postfach öffnen").click()
    solved_by_the_browser(login.value)
    expect(page.get_by_role("region", name="Stand Ihrer Meldung")).to_contain_text(
        "Aktueller Stand: Eingegangen", timeout=SEARCH_LIMIT_MS
    )
    assert spent(live_app) == before + 3


def test_the_privacy_page_explains_the_challenge(page: Page) -> None:
    page.goto("/datenschutz")
    section = page.get_by_role("heading", name="Die kleine Rechenaufgabe im Formular und im Postfach")
    expect(section).to_be_visible()
    text = page.locator("main").inner_text()
    assert "nichts über Ihr Gerät gelesen, gesendet oder gespeichert" in text
    assert "nie wegen vieler Sendungen abgelehnt" in text


def test_the_script_and_its_worker_run_under_the_pages_own_csp(browser: Browser, live_server: str) -> None:
    # Not the shared context: that one bypasses the CSP so that axe-core can be injected.
    context = browser.new_context(base_url=live_server, locale="de-DE")
    try:
        page = context.new_page()
        refused: list[str] = []
        page.on(
            "console",
            lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
        )
        page.goto("/postfach")
        page.get_by_label("Ihr Zugangscode").fill("1111 2222 3333 4444")
        with page.expect_request(lambda r: r.method == "POST", timeout=SEARCH_LIMIT_MS) as login:
            page.get_by_role("button", name="Postfach öffnen").click()
        solved_by_the_browser(login.value)
        expect(page.locator("#code-error")).to_contain_text("nicht gefunden", timeout=SEARCH_LIMIT_MS)
        assert refused == []
    finally:
        context.close()
