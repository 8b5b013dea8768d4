"""The audit trail: every view, download and change is recorded, without content; tampering is detected."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clearing.audit import service as audit
from clearing.audit.models import AuditEvent, AuditHead
from clearing.cases import service
from core.clock import SystemClock
from core.db import utcnow
from reporting.models import Case
from reporting.service import mailbox_view, open_mailbox
from tests.factories import Person, Town, World, config_of, officer_staff, submit_case
from tests.leaks import dump_contains, dump_database
from tests.web import logged_in_client, staff_csrf

CANARY = "KANARIENVOGEL-41c7"
# What a `detail` may hold: a code, a transition, an id; never words someone typed.
DETAIL_RE = re.compile(r"^([a-z_]+(->[a-z_]+)?|[0-9a-f]{32}|none)$")


def _events(session: Session, chain: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)))


def test_case_work_writes_audit_events_without_content(app: Flask, session: Session, world: World) -> None:
    case_id, attachment_id = world.case_a.id, world.case_a.attachment_ids[0]
    client = logged_in_client(app, world.officer_a)
    base = f"/clearing/fall/{case_id}"

    assert client.get(base).status_code == 200
    assert client.get(f"{base}/datei/{attachment_id}").status_code == 200
    token = staff_csrf(client)
    assert client.post(f"{base}/nachricht", data={"body": f"Antwort {CANARY}", "csrf_token": token}).status_code == 303
    assert client.post(f"{base}/notiz", data={"note": f"Notiz {CANARY}", "csrf_token": token}).status_code == 303
    assessment = {
        "urgency": "high",
        "escalation_level": "2",
        "incident_types": ["threat"],
        "offences": ["s185"],
        "known_on": "2025-03-06",
        "notes": f"Bewertung {CANARY}",
        "csrf_token": token,
    }
    assert client.post(f"{base}/bewertung", data=assessment).status_code == 303
    assert (
        client.post(
            f"{base}/status", data={"target": "in_review", "reason": f"Grund {CANARY}", "csrf_token": token}
        ).status_code
        == 303
    )
    assert (
        client.post(f"{base}/zustaendig", data={"officer": world.officer_a.id, "csrf_token": token}).status_code == 303
    )

    events = _events(session, world.a.id)
    actions = [e.action for e in events]
    for action in (
        "case.viewed",
        "attachment.downloaded",
        "message.sent",
        "note.added",
        "assessment.saved",
        "case.transition",
        "case.assigned",
    ):
        assert action in actions, action
    downloaded = next(e for e in events if e.action == "attachment.downloaded")
    assert downloaded.target_id == attachment_id
    transition = next(e for e in events if e.action == "case.transition")
    assert (transition.target_id, transition.detail) == (case_id, "received->in_review")
    for event in events:
        assert event.actor_id == world.officer_a.id
        assert event.actor_role == "officer"
        assert event.detail is None or DETAIL_RE.match(event.detail), event.detail

    # No content and no client address anywhere in the database: not in the audit trail, not elsewhere.
    dump = dump_database(app)
    assert dump_contains(dump, CANARY) == []
    assert dump_contains(dump, "127.0.0.1") == []
    assert dump_contains(dump, "werkzeug") == []

    # The message reached the reporter's mailbox.
    opened = open_mailbox(session, app.extensions["komma"].config, world.case_a.receipt_code)
    assert [m.body for m in mailbox_view(session, opened).messages] == [f"Antwort {CANARY}"]
    session.rollback()

    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    total = len(session.scalars(select(AuditEvent)).all())
    assert f"audit trail intact: {total} events" in result.output
    assert audit.verify(session) == (total, None)


def test_a_refused_transition_is_not_audited(app: Flask, session: Session, world: World) -> None:
    client = logged_in_client(app, world.officer_a)
    response = client.post(
        f"/clearing/fall/{world.case_a.id}/status",
        data={"target": "closed", "reason": "", "csrf_token": staff_csrf(client)},
    )
    assert response.status_code == 200
    assert "Von diesem Status aus ist dieser Schritt nicht möglich." in response.get_data(as_text=True)
    # The login, the re-shown page, nothing else.
    assert [e.action for e in _events(session, world.a.id)] == ["login", "case.viewed"]


# Tampering ----------------------------------------------------------------------------------------------

CHAIN = "test-chain"


def _chain_of_six(session: Session, town: Town, officer: Person, case_id: str) -> list[AuditEvent]:
    """Six events of the municipality's chain, written by the clearing office's own service calls."""
    actor = officer_staff(session, town, officer)
    case = session.get(Case, case_id)
    assert case is not None
    service.open_case_file(session, actor, case, today=SystemClock().today())
    service.send_message(session, actor, case, "Antwort")
    # Saving the assessment moves the case on: received -> in review -> assessed, each a transition.
    service.save_assessment(
        session, actor, case, service.AssessmentInput("high", 2, ["threat"], [], [], None, False, False, None, "")
    )
    service.assign(session, actor, case, officer.id)
    # Another chain, intact, which must not hide the broken one.
    audit.record(session, chain=audit.NETWORK_CHAIN, action="municipality.created", actor_id=None, actor_role="cli")
    session.commit()
    events = _events(session, town.id)
    assert [(e.seq, e.action) for e in events] == [
        (1, "case.viewed"),
        (2, "message.sent"),
        (3, "assessment.saved"),
        (4, "case.transition"),
        (5, "case.transition"),
        (6, "case.assigned"),
    ]
    # Seven events and the registry's two: the municipality's chain and the network's.
    assert audit.verify(session) == (9, None)
    return events


def _edit_action(session: Session, events: list[AuditEvent]) -> None:
    session.execute(update(AuditEvent).where(AuditEvent.id == events[2].id).values(action="case.assigned"))


def _edit_time(session: Session, events: list[AuditEvent]) -> None:
    session.execute(update(AuditEvent).where(AuditEvent.id == events[2].id).values(at=utcnow()))


def _edit_and_rehash(session: Session, events: list[AuditEvent]) -> None:
    # The forger recomputes the edited event's own hash, without the audit key: it does not verify.
    e = events[2]
    digest = audit._digest(
        e.prev_hash, e.chain, e.seq, e.at, e.actor_id, e.actor_role, "case.assigned", e.target_id, e.detail
    )
    session.execute(update(AuditEvent).where(AuditEvent.id == e.id).values(action="case.assigned", hash=digest))


def _delete_middle(session: Session, events: list[AuditEvent]) -> None:
    session.execute(AuditEvent.__table__.delete().where(AuditEvent.id == events[2].id))


def _delete_first(session: Session, events: list[AuditEvent]) -> None:
    session.execute(AuditEvent.__table__.delete().where(AuditEvent.id == events[0].id))


def _delete_last(session: Session, events: list[AuditEvent]) -> None:
    session.execute(AuditEvent.__table__.delete().where(AuditEvent.id == events[5].id))


def _reorder(session: Session, events: list[AuditEvent]) -> None:
    # Swap the seq values of events 3 and 4 (through a free value: (chain, seq) is unique).
    third, fourth = events[2], events[3]
    session.execute(update(AuditEvent).where(AuditEvent.id == third.id).values(seq=-1))
    session.execute(update(AuditEvent).where(AuditEvent.id == fourth.id).values(seq=3))
    session.execute(update(AuditEvent).where(AuditEvent.id == third.id).values(seq=4))


TAMPERING: dict[str, tuple[Callable[[Session, list[AuditEvent]], None], int, str]] = {
    "edit an event's action": (_edit_action, 3, "event was changed"),
    "edit an event's time": (_edit_time, 3, "event was changed"),
    "edit and recompute its hash": (_edit_and_rehash, 3, "event was changed"),
    "delete a middle event": (_delete_middle, 3, "event missing or out of order"),
    "delete the first event": (_delete_first, 1, "event missing or out of order"),
    "delete the last event": (_delete_last, 6, "events missing at the end"),
    "reorder two events": (_reorder, 3, "does not follow the previous event"),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_is_detected_by_verify_and_by_the_command(
    app: Flask, session: Session, town_a: Town, officer_a: Person, kind: str
) -> None:
    tamper, first_broken, reason = TAMPERING[kind]
    case = submit_case(session, config_of(app), town_a)
    events = _chain_of_six(session, town_a, officer_a, case.id)
    tamper(session, events)
    session.commit()
    session.expire_all()

    _checked, broken = audit.verify(session)
    assert broken == audit.BrokenLink(town_a.id, first_broken, reason)
    assert audit.verify(session, town_a.id)[1] == broken
    assert audit.verify(session, audit.NETWORK_CHAIN)[1] is None

    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    assert f"chain {town_a.id}, event {first_broken}: {reason}" in result.output


def test_the_head_keeps_the_chain_linear(session: Session) -> None:
    first = audit.record(session, chain=CHAIN, action="case.viewed", actor_id=None, actor_role="officer")
    second = audit.record(session, chain=CHAIN, action="case.viewed", actor_id=None, actor_role="officer")
    session.commit()
    head = session.get(AuditHead, CHAIN)
    assert head is not None
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.hash
    assert (head.seq, head.hash) == (2, second.hash)
