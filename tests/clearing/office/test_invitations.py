"""Issue 13 item 7: a coordinator cannot take over a new account; its holder takes it up through a single-use link."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import invitations
from core.accounts import LoginRefused, check_password
from core.config import Config
from core.db import utcnow
from core.models import Account, AccountInvitation
from tests.factories import Alliance, Person, build_alliance
from tests.web import (
    ENROLMENT_SECRET_RE,
    accept_invitation,
    csrf_token,
    invitation_path,
    log_in,
    logged_in_client,
    staff_csrf,
    submit_password,
)

INVALID = "Dieser Einladungslink funktioniert nicht"
PASSWORD = "mein eigenes geheimes Passwort"


@pytest.fixture
def alliance(session: Session, config: Config) -> Alliance:
    return build_alliance(session, config, "einladestadt", "Einladestadt")


def _account(session: Session, login: str) -> Account:
    session.expire_all()
    account = session.scalar(select(Account).where(Account.login == login))
    assert account is not None
    return account


def test_the_coordinator_sees_no_credential_and_cannot_take_over_the_new_account(
    app: Flask, session: Session, config: Config, alliance: Alliance
) -> None:
    coordinator = logged_in_client(app, alliance.coordinator)
    data = {
        "csrf_token": staff_csrf(coordinator),
        "login": "neue-kraft",
        "display_name": "Neue Kraft",
        "role": "officer",
    }
    seen = coordinator.post("/verwaltung/team", data=data).get_data(as_text=True)
    seen += coordinator.get("/verwaltung/team").get_data(as_text=True)
    link = invitation_path(seen)
    account = _account(session, "neue-kraft")

    # Nothing the coordinator's browser got could log in: no password, no key pair, no TOTP secret exists yet.
    assert account.invited
    assert (account.password_hash, account.public_key, account.wrapped_private_key, account.totp_ciphertext) == (
        "",
        b"",
        b"",
        b"",
    )
    assert not ENROLMENT_SECRET_RE.search(seen)
    assert "Erstes Passwort" not in seen
    # Whatever the coordinator tries as password (the link, its token, anything on the page) is refused
    # exactly like an unknown login.
    token = link.rsplit("/", 1)[1]
    for guess in (token, link, "neue-kraft"):
        with pytest.raises(LoginRefused):
            check_password(session, config, "neue-kraft", guess)
    session.rollback()
    refused = submit_password(app.test_client(), "neue-kraft", token)
    assert "Benutzername oder Passwort ist falsch." in refused.get_data(as_text=True)

    # The GET (a mail scanner, a link preview) changes nothing.
    holder = app.test_client()
    page = holder.get(link)
    assert page.status_code == 200
    assert "neue-kraft" in page.get_data(as_text=True)
    assert _account(session, "neue-kraft").invited
    assert session.scalar(select(AccountInvitation.used_at).where(AccountInvitation.account_id == account.id)) is None

    # A too short password leaves the link valid.
    short = holder.post(link, data={"password": "kurz", "repeat": "kurz", "csrf_token": csrf_token(holder, link)})
    assert short.status_code == 200
    assert "mindestens 12 Zeichen" in short.get_data(as_text=True)
    assert _account(session, "neue-kraft").invited

    # The holder sets the password, enrols TOTP and is logged in.
    secret, done = accept_invitation(app, holder, link, PASSWORD)
    assert done.headers["Location"] == "/clearing/"
    taken_up = _account(session, "neue-kraft")
    assert not taken_up.invited
    assert taken_up.totp_confirmed
    assert secret not in seen
    # Later logins need the holder's own password and code.
    person = Person(taken_up.id, taken_up.login, PASSWORD, secret, "officer", alliance.town.id)
    assert log_in(app, app.test_client(), person).headers["Location"] == "/clearing/"

    # The link is used up: the coordinator (or anyone who saw it) can no longer set a password with it.
    again = app.test_client()
    assert again.get(link).status_code == 410
    reuse = again.post(link, data={"password": "ein anderes passwort", "repeat": "ein anderes passwort"})
    assert reuse.status_code in (400, 410)
    assert INVALID in coordinator.get(link).get_data(as_text=True)
    with pytest.raises(LoginRefused):
        check_password(session, config, "neue-kraft", "ein anderes passwort")
    session.rollback()

    # The new officer waits for a colleague to pass on the office key, as before (its key pair exists now).
    grants = logged_in_client(app, alliance.officer).get("/verwaltung/freischalten").get_data(as_text=True)
    assert "Neue Kraft" in grants


def test_a_used_an_expired_and_an_unknown_link_get_the_same_answer(
    app: Flask, session: Session, config: Config, alliance: Alliance
) -> None:
    expired = invitations.invite(session, login="abgelaufen", role="officer", municipality_id=alliance.town.id)
    used = invitations.invite(session, login="benutzt", role="coordinator", municipality_id=alliance.town.id)
    session.execute(
        update(AccountInvitation)
        .where(AccountInvitation.account_id == expired.account.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    accept_invitation(app, app.test_client(), f"/einladung/{used.token}", PASSWORD)

    answers = set()
    for token in (expired.token, used.token, "unbekannt-" + "x" * 30):
        client = app.test_client()
        page = client.get(f"/einladung/{token}")
        assert page.status_code == 410
        body = page.get_data(as_text=True)
        assert INVALID in body
        # The same page but for the link's own address (in the language links).
        answers.add(body.replace(token, "TOKEN"))
    assert len(answers) == 1
    # The expired account stays without credentials; a new link (audited) lets its holder in.
    assert _account(session, "abgelaufen").invited
    coordinator = logged_in_client(app, alliance.coordinator)
    renewed = coordinator.post(
        f"/verwaltung/team/{expired.account.id}/einladen", data={"csrf_token": staff_csrf(coordinator)}
    )
    assert renewed.status_code == 200
    fresh = invitation_path(renewed.get_data(as_text=True))
    assert fresh != f"/einladung/{expired.token}"
    _secret, done = accept_invitation(app, app.test_client(), fresh, PASSWORD)
    assert done.headers["Location"] == "/clearing/"


def test_an_invited_partner_user_gets_the_organisation_key_only_when_taking_up_the_account(
    app: Flask, session: Session, config: Config
) -> None:
    alliance = build_alliance(session, config, "partnerladestadt", "Partnerladestadt")
    coordinator = logged_in_client(app, alliance.coordinator)
    partner_id = alliance.partner_ids["polizei-staatsschutz"]
    page = coordinator.post(
        "/verwaltung/partner",
        data={
            "csrf_token": staff_csrf(coordinator),
            "partner": partner_id,
            "login": "eingeladene-partnerin",
            "display_name": "Eingeladene Partnerin",
        },
    ).get_data(as_text=True)
    assert "Erstes Passwort" not in page
    assert _account(session, "eingeladene-partnerin").invited
    secret, done = accept_invitation(app, app.test_client(), invitation_path(page), PASSWORD)
    assert done.headers["Location"] == "/partner/"
    assert pyotp.TOTP(secret).now().isdigit()


def test_password_attempts_with_one_link_are_limited(app: Flask, session: Session, alliance: Alliance) -> None:
    invited = invitations.invite(session, login="gebremst", role="officer", municipality_id=alliance.town.id)
    session.commit()
    link = f"/einladung/{invited.token}"
    client = app.test_client()
    statuses = []
    for _ in range(invitations.ACCEPT_ATTEMPTS_PER_HOUR + 1):
        # Every password attempt counts, a refused one too.
        word = "kurz"
        statuses.append(
            client.post(
                link, data={"password": word, "repeat": word, "csrf_token": csrf_token(client, link)}
            ).status_code
        )
    assert statuses[-1] == 429
    assert "Zu viele Versuche" in client.post(
        link, data={"password": PASSWORD, "repeat": PASSWORD, "csrf_token": csrf_token(client, link)}
    ).get_data(as_text=True)
    assert _account(session, "gebremst").invited
