"""Issue 13 item 8: the lockout does not tell which login names exist."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from core import accounts
from core.models import Account
from tests.factories import Person, add_person, add_town, config_of
from tests.web import submit_password

CSRF_VALUE_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")')
ATTEMPTS = 12
# Between attempts: some within the delay, some after it has passed (the delay doubles each time).
PAUSES = [0, 1, 1, 0, 3, 1, 5, 0, 9, 17, 1, 40]


class StepClock:
    """The accounts module's clock, moved on by hand so that both runs see the same instants."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _answers(app: Flask, clock: StepClock, login: str) -> list[tuple[int, str]]:
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    client = app.test_client()
    answers = []
    for pause in PAUSES[:ATTEMPTS]:
        clock.now += timedelta(seconds=pause)
        response = submit_password(client, login, "ein falsches passwort")
        body = CSRF_VALUE_RE.sub(r"\1TOKEN\2", response.get_data(as_text=True)).replace(login, "LOGIN")
        answers.append((response.status_code, body))
    return answers


@pytest.fixture
def officer(session: Session, app: Flask) -> Person:
    return add_person(session, config_of(app), add_town(session, "namensstadt", "Namensstadt"), "vorhanden")


def test_a_known_and_an_unknown_login_get_the_same_answers_at_every_attempt(
    app: Flask, officer: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = StepClock()
    monkeypatch.setattr(accounts, "utcnow", clock)
    known = _answers(app, clock, officer.login)
    unknown = _answers(app, clock, "gibt-es-nicht")
    for step, (k, u) in enumerate(zip(known, unknown, strict=True), start=1):
        assert k == u, f"attempt {step} differs"
    # Both are told "wrong" first and then, equally, to wait.
    wrong = [i for i, (_status, body) in enumerate(known) if "Benutzername oder Passwort ist falsch." in body]
    waiting = [i for i, (_status, body) in enumerate(known) if "Zu viele Fehlversuche" in body]
    assert wrong[:3] == [0, 1, 2]
    assert waiting, "the lockout never started"
    assert len(wrong) + len(waiting) == ATTEMPTS


def test_an_inactive_account_answers_like_an_unknown_name(
    app: Flask, session: Session, officer: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = StepClock()
    monkeypatch.setattr(accounts, "utcnow", clock)
    account = session.get(Account, officer.id)
    assert account is not None
    account.active = False
    session.commit()
    assert _answers(app, clock, officer.login) == _answers(app, clock, "auch-nicht-da")
