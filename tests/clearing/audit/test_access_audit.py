"""Every action that grants access or changes who can read is audited (issue 13, item 10).

Login (with a first TOTP enrolment), logout, "log out everywhere", a password change and passing
the partner organisation's key to a colleague: each writes exactly one event to the account's
municipality's chain, with the account as actor and no client data (no address, no browser).
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.audit import service as audit
from clearing.audit.models import AuditEvent
from core.config import Config
from tests.factories import Person, Town, add_partner, add_person, build_alliance
from tests.leaks import dump_contains, dump_database
from tests.web import csrf_token, log_in, logged_in_client, post

USER_AGENT = "Kanarienbrowser/4.1 (audit-canary)"


def _actions(session: Session, chain: str) -> list[tuple[str, str | None, str, str | None, str | None]]:
    session.expire_all()
    events = session.scalars(select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq))
    return [(e.action, e.actor_id, e.actor_role, e.target_id, e.detail) for e in events]


def _no_client_data(app: Flask) -> None:
    dump = dump_database(app)
    assert dump_contains(dump, "127.0.0.1") == []
    assert dump_contains(dump, "Kanarienbrowser") == []


def test_login_logout_and_logout_everywhere_are_audited_once_each(
    app: Flask, session: Session, town_a: Town, officer_a: Person
) -> None:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT
    log_in(app, client, officer_a)
    assert _actions(session, town_a.id) == [("login", officer_a.id, "officer", officer_a.id, None)]

    assert post(client, "/abmelden").status_code == 303
    assert _actions(session, town_a.id)[1:] == [("logout", officer_a.id, "officer", officer_a.id, None)]
    # A logout without a session is nobody's: nothing to record.
    assert client.post("/abmelden", data={"csrf_token": csrf_token(client, "/anmelden")}).status_code == 303
    assert len(_actions(session, town_a.id)) == 2

    log_in(app, client, officer_a)
    assert post(client, "/konto/ueberall-abmelden").status_code == 303
    assert [a[0] for a in _actions(session, town_a.id)[2:]] == ["login", "logout.everywhere"]
    _no_client_data(app)
    session.rollback()
    assert audit.verify(session)[1] is None


def test_the_first_login_records_the_totp_enrolment(app: Flask, session: Session, config: Config, town_a: Town) -> None:
    newcomer = add_person(session, config, town_a, "neu-fachkraft", totp_confirmed=False)
    logged_in_client(app, newcomer)
    assert _actions(session, town_a.id) == [
        ("totp.enrolled", newcomer.id, "officer", newcomer.id, None),
        ("login", newcomer.id, "officer", newcomer.id, None),
    ]
    # The second login enrols nothing.
    logged_in_client(app, newcomer)
    assert [a[0] for a in _actions(session, town_a.id)] == ["totp.enrolled", "login", "login"]


def test_a_password_change_is_audited_once(app: Flask, session: Session, town_a: Town, officer_a: Person) -> None:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT
    log_in(app, client, officer_a)
    new_password = "ein ganz neues langes Passwort"
    response = post(
        client,
        "/konto",
        {"old_password": officer_a.password, "new_password": new_password, "repeat": new_password},
    )
    assert response.status_code == 303
    assert _actions(session, town_a.id)[1:] == [("password.changed", officer_a.id, "officer", officer_a.id, None)]
    # A refused change (wrong old password) changes nothing and records nothing.
    refused = post(client, "/konto", {"old_password": "falsch", "new_password": new_password, "repeat": new_password})
    assert refused.status_code == 200
    assert len(_actions(session, town_a.id)) == 2
    _no_client_data(app)
    assert new_password not in str(dump_database(app))


def test_a_network_operator_s_login_goes_to_the_network_chain(app: Flask, session: Session, config: Config) -> None:
    operator = add_person(session, config, None, "netzbetrieb", role="network_operator")
    logged_in_client(app, operator)
    assert _actions(session, audit.NETWORK_CHAIN) == [("login", operator.id, "network_operator", operator.id, None)]


def test_passing_the_partner_key_to_a_colleague_is_audited_once(
    app: Flask, session: Session, config: Config, town_a: Town, officer_a: Person
) -> None:
    alliance = build_alliance(session, config, town_a.slug, town_a.name, town=town_a, officer=officer_a)
    granter = alliance.partners["opferberatung"]
    newcomer = add_partner(session, config, alliance.town, "opferberatung", "neu-beratung")
    colleague = logged_in_client(app, granter)
    before = len(_actions(session, town_a.id))

    assert post(colleague, f"/partner/kolleginnen/{newcomer.id}").status_code == 303
    assert _actions(session, town_a.id)[before:] == [("partner.key_granted", granter.id, "partner", newcomer.id, None)]
    # Granting again is a no-op: no second event.
    post(colleague, f"/partner/kolleginnen/{newcomer.id}")
    assert len(_actions(session, town_a.id)) == before + 1
    # And the newcomer's next login reads with the key.
    fresh = app.test_client()
    log_in(app, fresh, newcomer)
    assert [a[0] for a in _actions(session, town_a.id)[before + 1 :]] == ["login"]
