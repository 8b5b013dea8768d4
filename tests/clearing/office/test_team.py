"""The coordinator's team page: real roles, and switching an account off (and on) with its sessions ended."""

from __future__ import annotations

import html

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.audit.models import AuditEvent
from clearing.office import team
from clearing.office.errors import TeamRefused
from core.config import Config
from core.models import Account
from core.staff import Staff
from tests.factories import Alliance, add_person, build_alliance, missing_id, partner_org
from tests.web import flashes, logged_in_client, staff_csrf, submit_password


@pytest.fixture
def alliance(session: Session, config: Config) -> Alliance:
    return build_alliance(session, config, "teamstadt", "Teamstadt")


def _actor(session: Session, person_id: str) -> Staff:
    account = session.get(Account, person_id)
    assert account is not None
    return Staff(account, None)


def _account(session: Session, person_id: str) -> Account:
    session.expire_all()
    account = session.get(Account, person_id)
    assert account is not None
    return account


def _events(session: Session, target_id: str) -> list[tuple[str, str | None, str | None]]:
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.detail)
        .where(AuditEvent.target_id == target_id, AuditEvent.action.like("account.%"))
        .order_by(AuditEvent.seq)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_the_team_page_names_every_role_and_partner_users_by_their_organisation(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    page = logged_in_client(app, alliance.coordinator).get("/verwaltung/team").get_data(as_text=True)
    counselling = partner_org(session, alliance.town, "opferberatung")
    rows = {line for line in page.split("<tr>") if "<td>" in line}
    partner_row = next(r for r in rows if alliance.partners["opferberatung"].login in r)
    assert html.escape(f"Partnerorganisation: {counselling.name}", quote=False) in partner_row
    assert "Koordination" not in partner_row
    officer_row = next(r for r in rows if alliance.officer.login in r)
    assert "Clearing-Fachkraft" in officer_row
    coordinator_row = next(r for r in rows if alliance.coordinator.login in r)
    assert "Koordination" in coordinator_row
    assert "Ihr Konto" in coordinator_row


def test_deactivation_ends_sessions_blocks_login_is_audited_and_can_be_undone(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    officer = logged_in_client(app, alliance.officer2)
    assert officer.get("/clearing/").status_code == 200
    coordinator = logged_in_client(app, alliance.coordinator)

    confirm = coordinator.get(f"/verwaltung/team/{alliance.officer2.id}/deaktivieren").get_data(as_text=True)
    assert "kann sich danach nicht mehr anmelden" in confirm
    assert "Ja, Konto deaktivieren" in confirm
    response = coordinator.post(
        f"/verwaltung/team/{alliance.officer2.id}/deaktivieren", data={"csrf_token": staff_csrf(coordinator)}
    )
    assert response.status_code == 303
    assert "ist deaktiviert" in flashes(coordinator.get("/verwaltung/team").get_data(as_text=True))

    assert not _account(session, alliance.officer2.id).active
    # The running session is over at once, and the password no longer opens anything.
    assert officer.get("/clearing/").headers["Location"].startswith("/anmelden")
    refused = submit_password(app.test_client(), alliance.officer2.login, alliance.officer2.password)
    assert refused.status_code == 200
    assert "Benutzername oder Passwort ist falsch." in refused.get_data(as_text=True)
    assert _events(session, alliance.officer2.id) == [("account.deactivated", alliance.coordinator.id, "officer")]

    response = coordinator.post(
        f"/verwaltung/team/{alliance.officer2.id}/aktivieren", data={"csrf_token": staff_csrf(coordinator)}
    )
    assert response.status_code == 303
    assert _account(session, alliance.officer2.id).active
    assert logged_in_client(app, alliance.officer2).get("/clearing/").status_code == 200
    assert [e[0] for e in _events(session, alliance.officer2.id)] == ["account.deactivated", "account.reactivated"]


def test_a_partner_user_can_be_deactivated_too(app: Flask, session: Session, alliance: Alliance) -> None:
    partner = alliance.partners["opferberatung"]
    portal = logged_in_client(app, partner)
    assert portal.get("/partner/").status_code == 200
    team.set_active(session, _actor(session, alliance.coordinator.id), _account(session, partner.id), False)
    session.commit()
    assert portal.get("/partner/").headers["Location"].startswith("/anmelden")


def test_no_one_deactivates_themself_the_last_coordinator_or_another_municipalitys_account(
    app: Flask, session: Session, config: Config, alliance: Alliance
) -> None:
    actor = _actor(session, alliance.coordinator.id)
    with pytest.raises(TeamRefused, match="eigenes Konto"):
        team.set_active(session, actor, _account(session, alliance.coordinator.id), False)
    other = add_person(session, config, build_alliance(session, config, "andere", "Andere").town, "fremd")
    with pytest.raises(TeamRefused, match="in Ihrer Kommune nicht"):
        team.set_active(session, actor, _account(session, other.id), False)
    # The last active coordinator stays, whoever asks (here one whose own account is switched off).
    second = add_person(session, config, alliance.town, "zweite-koordination", role="coordinator")
    _account(session, second.id).active = False
    session.flush()
    with pytest.raises(TeamRefused, match="letzte Koordination"):
        team.set_active(
            session, Staff(_account(session, second.id), None), _account(session, alliance.coordinator.id), False
        )
    session.rollback()

    # Over HTTP: the own account has no confirmation page, and a refused post changes nothing.
    client = logged_in_client(app, alliance.coordinator)
    assert client.get(f"/verwaltung/team/{alliance.coordinator.id}/deaktivieren").status_code == 404
    assert client.get(f"/verwaltung/team/{other.id}/deaktivieren").status_code == 404
    assert client.get(f"/verwaltung/team/{missing_id()}/deaktivieren").status_code == 404
    response = client.post(
        f"/verwaltung/team/{alliance.coordinator.id}/deaktivieren", data={"csrf_token": staff_csrf(client)}
    )
    assert response.status_code == 303
    assert "Ihr eigenes Konto können Sie nicht deaktivieren." in flashes(
        client.get("/verwaltung/team").get_data(as_text=True)
    )
    assert _account(session, alliance.coordinator.id).active
    assert (
        client.post(f"/verwaltung/team/{other.id}/deaktivieren", data={"csrf_token": staff_csrf(client)}).status_code
        == 404
    )
    assert _account(session, other.id).active
    # Officers and partners have no team page.
    assert (
        logged_in_client(app, alliance.officer).get(f"/verwaltung/team/{alliance.officer2.id}/deaktivieren").status_code
        == 404
    )


def test_a_new_account_is_recorded_with_the_coordinator_as_actor(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    coordinator = logged_in_client(app, alliance.coordinator)

    def create(login: str) -> None:
        data = {"csrf_token": staff_csrf(coordinator), "login": login, "display_name": "Neue Kraft", "role": "officer"}
        assert coordinator.post("/verwaltung/team", data=data).status_code == 200

    create("neue-fachkraft")
    created = session.scalar(select(Account).where(Account.login == "neue-fachkraft"))
    assert created is not None
    assert _events(session, created.id) == [("account.created", alliance.coordinator.id, "officer")]
    event = session.scalar(select(AuditEvent).where(AuditEvent.target_id == created.id))
    assert event is not None
    assert (event.chain, event.actor_role) == (alliance.town.id, "coordinator")

    create("neue-fachkraft")  # taken: refused, nothing more recorded
    assert _events(session, created.id) == [("account.created", alliance.coordinator.id, "officer")]
