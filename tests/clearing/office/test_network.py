"""The network operator's page: a new municipality is recorded in the network's audit chain."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.audit import service as audit
from clearing.audit.models import AuditEvent
from core.config import Config
from core.models import Municipality
from tests.factories import add_person
from tests.web import logged_in_client, staff_csrf


def _created(session: Session) -> list[tuple[str | None, str, str | None, str | None]]:
    session.expire_all()
    rows = session.execute(
        select(AuditEvent.actor_id, AuditEvent.actor_role, AuditEvent.target_id, AuditEvent.detail)
        .where(AuditEvent.chain == audit.NETWORK_CHAIN, AuditEvent.action == "municipality.created")
        .order_by(AuditEvent.seq)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_new_municipality_is_recorded_with_the_network_operator_as_actor(
    app: Flask, session: Session, config: Config
) -> None:
    operator = add_person(session, config, None, "netzwerk", role="network_operator")
    client = logged_in_client(app, operator)

    def create(slug: str) -> None:
        data = {"csrf_token": staff_csrf(client), "slug": slug, "name": "Neustadt"}
        assert client.post("/verwaltung/netzwerk", data=data).status_code == 200

    create("neustadt")
    municipality = session.scalar(select(Municipality).where(Municipality.slug == "neustadt"))
    assert municipality is not None
    assert _created(session) == [(operator.id, "network_operator", municipality.id, None)]

    create("neustadt")  # taken: refused, nothing recorded
    assert _created(session) == [(operator.id, "network_operator", municipality.id, None)]
