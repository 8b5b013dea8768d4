"""Floods replayed against the real app: one client must never silence a victim (issue 14).

The attacker is an ordinary scripted client: it posts forms without running the page's script,
so it solves no challenge. The genuine reporter's browser solves it (tests.web.solved_challenge does
what static/js/challenge.js does). Budgets are made small so that a flood is a few dozen requests.
"""

from __future__ import annotations

import re
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

import crypto
from core import throttle
from core.config import Config
from reporting import challenge, flood, uploads
from reporting.models import Case, ReporterAccess, SpentChallenge
from tests.conftest import make_test_config
from tests.factories import Town, add_town, count_cases, receipt_derivations
from tests.reporting import files
from tests.smtp import SmtpServer
from tests.web import (
    MAILBOX,
    RECEIPT_RE,
    full_report,
    mailbox_login,
    post_form,
    post_report,
    solved_challenge,
)

OPEN_REPORTS = 3
OPEN_CODES = 3
LATE_RECEIPTS = 2
WAITING = "Ihr Zugangscode wird deshalb erst in Kürze erstellt"
NOT_CHECKED = "deshalb wurde Ihr Code noch nicht geprüft"


@pytest.fixture
def app_config(migrated_database: str, tmp_path: Path, smtp_server: SmtpServer) -> Config:
    return make_test_config(migrated_database, tmp_path / "instance", smtp_url=smtp_server.url)


@pytest.fixture
def town(session: Session) -> Town:
    return add_town(session, notify_email="clearing@musterstadt.example")


@pytest.fixture(autouse=True)
def small_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small budgets, and one fixed instant: a test must not straddle the turn of a minute or an hour."""
    monkeypatch.setattr(flood, "OPEN_REPORTS_PER_WINDOW", OPEN_REPORTS)
    monkeypatch.setattr(flood, "FLOOD_LEVEL", 5)
    monkeypatch.setattr(flood, "OPEN_CODES_PER_WINDOW", OPEN_CODES)
    monkeypatch.setattr(flood, "LATE_RECEIPTS_PER_MINUTE", LATE_RECEIPTS)
    now = datetime.now(UTC).replace(minute=30, second=30)
    monkeypatch.setattr(throttle, "utcnow", lambda: now)


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def genuine_report(client: FlaskClient, town: Town, **fields: Any) -> str:
    """A reporter whose browser runs the page's script: the report and its code at once."""
    path = f"/melden/{town.slug}"
    response = post_form(client, path, {**full_report(**fields), **solved_challenge(client, path)})
    assert response.status_code == 303, text(response)[:2000]
    page = text(client.get(response.headers["Location"]))
    match = RECEIPT_RE.search(page)
    assert match, page[:2000]
    return match.group(1)


def test_an_intake_flood_is_stored_and_never_locks_out_a_reporter(
    app: Flask, session: Session, town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = receipt_derivations(monkeypatch)
    attacker = app.test_client()
    flood_size = OPEN_REPORTS + 12
    for _ in range(flood_size):
        response = post_report(attacker, town)
        assert response.status_code == 303  # taken, never refused
    assert count_cases(session) == flood_size
    # Only the open budget's reports cost a derivation; the rest wait for their code.
    assert len(calls) == OPEN_REPORTS
    assert session.scalar(select(func.count()).select_from(ReporterAccess)) == OPEN_REPORTS

    # While the flood goes on, a genuine reporter's report is stored with its code at once,
    # and the code opens the mailbox.
    reporter = app.test_client()
    code = genuine_report(reporter, town)
    assert mailbox_login(reporter, code, solve=True).status_code == 303
    assert reporter.get(MAILBOX).status_code == 200

    # A reporter without JavaScript who is in acute danger, while the slow lane is full too:
    # stored, told to call 110, never refused.
    monkeypatch.setattr(flood, "LATE_RECEIPTS_PER_MINUTE", 0)
    no_script = app.test_client()
    response = post_report(no_script, town, full_report(acute_danger="yes"))
    assert response.status_code == 303
    waiting = no_script.get(response.headers["Location"])
    assert waiting.status_code == 200
    assert WAITING in text(waiting)
    assert 'href="tel:110"' in text(waiting)
    assert waiting.headers["Refresh"] == "15"
    session.expire_all()
    acute = session.scalars(select(Case).where(Case.urgency == "acute")).all()
    assert len(acute) == 1
    assert acute[0].flood_marked

    # Every report past the open budget is marked, the genuine and the acute one included; the
    # ones served from the budget before the flood are not.
    marks = session.scalars(select(Case.flood_marked)).all()
    assert marks.count(False) == OPEN_REPORTS
    assert marks.count(True) == flood_size - OPEN_REPORTS + 2


def test_the_office_hears_of_a_flood_once_not_once_per_report(
    app: Flask, session: Session, town: Town, smtp_server: SmtpServer
) -> None:
    attacker = app.test_client()
    for _ in range(OPEN_REPORTS + 10):
        assert post_report(attacker, town).status_code == 303
    session.expire_all()
    unmarked = session.scalar(select(func.count()).select_from(Case).where(Case.flood_marked.is_(False)))
    assert unmarked == OPEN_REPORTS  # marked from the first one past the open budget
    mails = smtp_server.wait_for(unmarked + 1)
    subjects = sorted(mail.subject for mail in mails)
    assert subjects == ["Komm.A Meldestelle: Neue Meldung eingegangen"] * unmarked + [
        "Komm.A Meldestelle: Ungewöhnlich viele Meldungen"
    ]
    flood_mail = next(mail for mail in mails if "Ungewöhnlich" in mail.subject)
    assert "als „Flut“ markiert" in flood_mail.text


def test_a_deferred_code_comes_in_the_slow_lane_and_opens_the_mailbox(
    app: Flask, session: Session, town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker = app.test_client()
    for _ in range(OPEN_REPORTS):
        assert post_report(attacker, town).status_code == 303
    # The slow lane derives LATE_RECEIPTS codes a minute; the attacker's come-backs spend them.
    for _ in range(LATE_RECEIPTS):
        attack = post_report(attacker, town)
        assert attacker.get(attack.headers["Location"]).status_code == 303  # to its code
    reporter = app.test_client()
    response = post_report(reporter, town)
    receipt = response.headers["Location"]
    assert WAITING in text(reporter.get(receipt))
    assert WAITING in text(reporter.get(receipt))
    # A copy of the cookie that holds the waiting report's key, kept by someone else.
    cookie = reporter.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    twin = app.test_client()
    twin.set_cookie(cookie.key, cookie.value)
    # A minute later the lane is open again: the reporter's page shows the code, which opens the mailbox.
    later = datetime.now(UTC).replace(minute=31, second=30)
    monkeypatch.setattr(throttle, "utcnow", lambda: later)
    shown = reporter.get(receipt, follow_redirects=True)
    match = RECEIPT_RE.search(text(shown))
    assert match, text(shown)[:2000]
    assert mailbox_login(reporter, match.group(1), solve=True).status_code == 303
    # The copy cannot buy a second code for the same report.
    replayed = text(twin.get(receipt, follow_redirects=True))
    assert "Hier wird kein Zugangscode angezeigt" in replayed
    assert not RECEIPT_RE.search(replayed)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ReporterAccess)) == OPEN_REPORTS + LATE_RECEIPTS + 1


def test_wrong_codes_cost_the_guesser_and_a_valid_code_always_opens(
    app: Flask, session: Session, town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    reporter = app.test_client()
    code = genuine_report(reporter, town)
    calls = receipt_derivations(monkeypatch)
    guesser = app.test_client()
    for n in range(OPEN_CODES + 20):
        response = mailbox_login(guesser, f"1111 2222 3333 {n:04d}")
        assert response.status_code == 200
    # Past the open budget the guesses are not even checked: no derivation, nothing for the guesser.
    assert len(calls) == OPEN_CODES
    assert NOT_CHECKED in text(mailbox_login(guesser, "1111 2222 3333 4444"))
    # The genuine reporter's browser solves the challenge: the valid code opens, during the flood.
    response = mailbox_login(reporter, code, solve=True)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(MAILBOX)
    # A guesser who pays with work is always checked, and gets a plain "not found".
    assert "Dieser Zugangscode wurde nicht gefunden" in text(mailbox_login(guesser, "1111 2222 3333 4444", solve=True))


def test_a_solution_buys_one_request_for_its_own_purpose(app: Flask, session: Session, town: Town) -> None:
    config, factory = app.extensions["komma"].config, app.extensions["komma"].session_factory
    now = datetime.now(UTC)
    issued = challenge.issue(session, config, challenge.mailbox_purpose(), now)
    solution = crypto.solve_work(issued.token.encode(), issued.bits)
    # For another purpose, not at all.
    assert not challenge.redeem(factory, config, challenge.report_purpose(town.id), issued.token, solution, now)
    assert challenge.redeem(factory, config, challenge.mailbox_purpose(), issued.token, solution, now)
    # A copy of a used one buys nothing.
    assert not challenge.redeem(factory, config, challenge.mailbox_purpose(), issued.token, solution, now)
    assert session.scalar(select(func.count()).select_from(SpentChallenge)) == 1
    # Expired, forged, a wrong solution, junk: never an error, only "not solved".
    fresh = challenge.issue(session, config, challenge.mailbox_purpose(), now)
    fresh_solution = crypto.solve_work(fresh.token.encode(), fresh.bits)
    late = now + challenge.LIFETIME + timedelta(minutes=1)
    assert not challenge.redeem(factory, config, challenge.mailbox_purpose(), fresh.token, fresh_solution, late)
    stamp, _bits, nonce, tag = fresh.token.split(".")
    easier = f"{stamp}.0.{nonce}.{tag}"
    assert not challenge.redeem(factory, config, challenge.mailbox_purpose(), easier, "0", now)
    wrong = next(str(n) for n in range(1000) if not crypto.work_done(fresh.token.encode(), str(n), fresh.bits))
    assert not challenge.redeem(factory, config, challenge.mailbox_purpose(), fresh.token, wrong, now)
    for junk_token, junk_solution in (
        ("", ""),
        ("a.b.c.d", "1"),
        ("x" * 500, "1"),
        (fresh.token, "1e9"),
        (fresh.token, "9" * 40),
    ):
        assert not challenge.redeem(factory, config, challenge.mailbox_purpose(), junk_token, junk_solution, now)
    # The used challenges are forgotten once they would have expired anyway.
    assert challenge.purge_spent(session, late + challenge.SKEW) == 1


def test_the_work_grows_under_pressure(app: Flask, session: Session) -> None:
    config, factory = app.extensions["komma"].config, app.extensions["komma"].session_factory
    now = datetime.now(UTC)
    base = challenge.required_bits(session, config, now)
    assert base == config.challenge_bits

    def use(count: int, at: datetime) -> None:
        for _ in range(count):
            issued = challenge.issue(session, config, challenge.mailbox_purpose(), at)
            solution = crypto.solve_work(issued.token.encode(), issued.bits)
            assert challenge.redeem(factory, config, challenge.mailbox_purpose(), issued.token, solution, at)

    # Used more than a minute ago: no longer pressure.
    use(challenge.PRESSURE_STEPS[0], now - timedelta(minutes=2))
    assert challenge.required_bits(session, config, now) == base
    use(challenge.PRESSURE_STEPS[0], now)
    assert challenge.required_bits(session, config, now) == base + 1
    assert challenge.issue(session, config, challenge.mailbox_purpose(), now).bits == base + 1


def test_the_pages_carry_the_challenge_and_its_script(app: Flask, town: Town) -> None:
    client = app.test_client()
    for path in (f"/melden/{town.slug}", "/postfach"):
        page = text(client.get(path))
        assert re.search(r'name="challenge" value="[^"]+" data-challenge-bits="4"', page), path
        assert '<script src="/static/js/challenge.js" defer></script>' in page
        assert "data-challenge-status" in page


def test_requests_without_a_solution_never_queue_for_a_derivation(
    app: Flask, session: Session, town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    reporter = app.test_client()
    code = genuine_report(reporter, town)
    calls = receipt_derivations(monkeypatch)
    script = app.test_client()
    # While this process's open lane is busy (here: held by the test itself), a report without a
    # solution is stored with its code deferred and a code without one is not checked, after a
    # short wait at most.
    monkeypatch.setattr(flood, "OPEN_LANE_WAIT_SECONDS", 0.05)
    with flood.open_lane() as held:
        assert held
        response = post_report(script, town)
        assert response.status_code == 303
        assert NOT_CHECKED in text(mailbox_login(script, code))
        assert calls == []
        # Requests that paid with work do not use that lane: stored with their code, and checked.
        genuine_report(app.test_client(), town)
        assert mailbox_login(reporter, code, solve=True).status_code == 303
        assert len(calls) == 2
        session.expire_all()
        assert session.scalar(select(func.count()).select_from(Case)) == 3
        assert session.scalar(select(func.count()).select_from(ReporterAccess)) == 2
    # Once the lane is free again the deferred report's page gets its code from the slow lane.
    shown = script.get(response.headers["Location"], follow_redirects=True)
    assert RECEIPT_RE.search(text(shown)), text(shown)[:2000]


def test_an_image_flood_through_the_form_is_bounded_and_paid_reports_have_their_own_lane(
    app: Flask, session: Session, town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The attack seen: submissions with two 6324x6324 PNGs of zeros (151 KiB each, 40 MP).
    attack_png = files.encode(Image.new("RGBA", (6324, 6324)), "PNG")
    started = time.monotonic()
    response = post_report(app.test_client(), town, uploads=[("a.png", attack_png), ("b.png", attack_png)])
    assert response.status_code == 303
    assert time.monotonic() - started < 20  # 22-52 s and about 1 GiB for two of them before
    del attack_png

    # While the rebuilds of requests without a solution fill their lane (here: the test holds
    # every slot), a report without one is asked to send its files again, and nothing is stored;
    # a report that paid with work is rebuilt in its own lane and stored with its code.
    before = count_cases(session)
    photo = files.encode(files.pattern(), "PNG")
    open_gate = uploads.rebuild_gate(paid=False)
    monkeypatch.setattr(open_gate, "wait_seconds", 0.05)
    with ExitStack() as held:
        for _ in range(uploads.MAX_CONCURRENT_REBUILDS):
            held.enter_context(open_gate.held())
        busy = post_report(app.test_client(), town, uploads=[("foto.png", photo)])
        assert busy.status_code == 422
        assert "Gerade werden sehr viele Bilder verarbeitet" in text(busy)
        assert count_cases(session) == before
        reporter = app.test_client()
        path = f"/melden/{town.slug}"
        paid = post_form(reporter, path, {**full_report(), **solved_challenge(reporter, path)}, [("foto.png", photo)])
        assert paid.status_code == 303, text(paid)[:2000]
        assert RECEIPT_RE.search(text(reporter.get(paid.headers["Location"])))
    assert count_cases(session) == before + 1
