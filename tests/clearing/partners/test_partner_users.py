"""The coordinator's partner page: a new partner user and a new organisation key, each recorded in the audit chain."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.audit.models import AuditEvent
from core.config import Config
from core.models import Account
from tests.factories import Alliance, build_alliance
from tests.web import accept_invitation, invitation_path, logged_in_client, staff_csrf


@pytest.fixture
def alliance(session: Session, config: Config) -> Alliance:
    return build_alliance(session, config, "partnerstadt", "Partnerstadt")


def _events(session: Session, chain: str, action: str) -> list[tuple[str | None, str, str | None, str | None]]:
    session.expire_all()
    rows = session.execute(
        select(AuditEvent.actor_id, AuditEvent.actor_role, AuditEvent.target_id, AuditEvent.detail)
        .where(AuditEvent.chain == chain, AuditEvent.action == action)
        .order_by(AuditEvent.seq)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_partner_user_and_a_new_organisation_key_are_recorded_with_the_coordinator_as_actor(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    coordinator = logged_in_client(app, alliance.coordinator)
    partner_id = alliance.partner_ids["opferberatung"]
    # The alliance's own partner users were arranged by hand, not by a coordinator: none recorded.
    assert _events(session, alliance.town.id, "account.created") == []

    response = coordinator.post(
        "/verwaltung/partner",
        data={
            "csrf_token": staff_csrf(coordinator),
            "partner": partner_id,
            "login": "zweite-beraterin",
            "display_name": "Zweite Beraterin",
        },
    )
    assert response.status_code == 200
    # The new user takes up the account with the link the page shows once (a key pair only then).
    accept_invitation(app, app.test_client(), invitation_path(response.get_data(as_text=True)), "zweite beraterin pw")
    new_user = session.scalar(select(Account).where(Account.login == "zweite-beraterin"))
    assert new_user is not None
    assert new_user.partner_id == partner_id
    assert _events(session, alliance.town.id, "account.created") == [
        (alliance.coordinator.id, "coordinator", new_user.id, "partner")
    ]

    # While the first user still holds the key, a new one is refused, and nothing is recorded.
    issue = f"/verwaltung/partner/{partner_id}/neuer-schluessel/{new_user.id}"
    refused = coordinator.post(issue, data={"csrf_token": staff_csrf(coordinator)})
    assert refused.status_code == 303
    assert _events(session, alliance.town.id, "partner.key_issued") == []

    first = session.get(Account, alliance.partners["opferberatung"].id)
    assert first is not None
    first.active = False
    session.commit()
    response = coordinator.post(issue, data={"csrf_token": staff_csrf(coordinator)})
    assert response.status_code == 303
    assert _events(session, alliance.town.id, "partner.key_issued") == [
        (alliance.coordinator.id, "coordinator", partner_id, None)
    ]
