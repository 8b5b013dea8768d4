"""The case workflow (one state machine with guards) and the deadlines of a case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from itertools import product
from typing import cast

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.audit.models import AuditEvent
from clearing.cases import workflow
from clearing.cases.deadlines import add_months, case_deadlines, complaint_deadline
from clearing.cases.errors import TransitionRefused
from clearing.cases.models import Assessment, CaseNote
from clearing.cases.workflow import TRANSITIONS, Guards
from core.db import utcnow
from reporting.models import Case, CaseEvent
from reporting.service import mailbox_view, open_mailbox
from tests.factories import Person, Town, add_example_alliance, case_row, config_of, refer_case, submit_case
from tests.web import logged_in_client, staff_csrf

STATES = tuple(TRANSITIONS)
ALLOWED = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
# The reporter's timeline entry each reached state writes (referral steps write theirs per partner).
TIMELINE = {"in_review": "in_review", "assessed": "assessed", "closed": "closed", "withdrawn": "withdrawn"}


def test_the_state_machine_is_the_one_in_architecture_md() -> None:
    assert {
        ("received", "in_review"),
        ("in_review", "assessed"),
        ("assessed", "referred"),
        ("referred", "awaiting_feedback"),
        ("awaiting_feedback", "closed"),
        ("closed", "in_review"),
        # Back to review from an assessment; closing without (or after) referrals.
        ("assessed", "in_review"),
        ("assessed", "closed"),
        ("referred", "closed"),
        # Any open state -> withdrawn.
        *((state, "withdrawn") for state in workflow.OPEN_STATES),
    } == ALLOWED
    assert set(STATES) == {*workflow.OPEN_STATES, "closed", "withdrawn"}


@pytest.fixture
def case(app: Flask, session: Session, town_a: Town) -> Iterator[Case]:
    submitted = submit_case(session, config_of(app), town_a)
    with app.test_request_context():
        yield case_row(session, submitted.id)


def _trail(session: Session, case: Case) -> tuple[list[str | None], dict[str, str]]:
    """The case's transition audit details (in order) and its timeline entries (id -> kind)."""
    details = list(
        session.scalars(
            select(AuditEvent.detail)
            .where(AuditEvent.target_id == case.id, AuditEvent.action == "case.transition")
            .order_by(AuditEvent.seq)
        )
    )
    timeline = {e.id: e.kind for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))}
    return details, timeline


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED))
def test_every_allowed_transition_succeeds_and_is_recorded(
    session: Session, case: Case, source: str, target: str
) -> None:
    case.status = source
    session.flush()
    details_before, timeline_before = _trail(session, case)
    workflow.transition(
        session, case, target, actor_id=None, actor_role="officer", guards=Guards(has_assessment=True), reason="Grund"
    )
    assert case.status == target
    details, timeline = _trail(session, case)
    assert details == [*details_before, f"{source}->{target}"]
    expected_kind = "reopened" if source == "closed" else TIMELINE.get(target)
    new_entries = [kind for event_id, kind in timeline.items() if event_id not in timeline_before]
    assert new_entries == ([expected_kind] if expected_kind else [])


@pytest.mark.parametrize(("source", "target"), sorted(set(product(STATES, (*STATES, "unknown"))) - ALLOWED))
def test_every_other_pair_is_refused_with_a_reason(source: str, target: str) -> None:
    case = Case(id="0" * 32, municipality_id="m", status=source)
    # No session: a refused transition must not get as far as recording anything.
    with pytest.raises(TransitionRefused) as refused:
        workflow.transition(
            cast(Session, None),
            case,
            target,
            actor_id=None,
            actor_role="officer",
            guards=Guards(has_assessment=True),
            reason="Grund",
        )
    assert refused.value.reason
    assert case.status == source


@pytest.mark.parametrize(
    ("source", "target", "guards", "reason", "message"),
    [
        ("in_review", "assessed", Guards(has_assessment=False), "", "Bitte erfassen Sie zuerst die Bewertung."),
        ("assessed", "referred", Guards(has_assessment=False), "", "Bitte erfassen Sie zuerst die Bewertung."),
        (
            "closed",
            "in_review",
            Guards(has_assessment=True),
            "",
            "Bitte geben Sie einen Grund für die Wiederaufnahme an.",
        ),
        ("referred", "closed", Guards(has_assessment=True, pending_referrals=1), "", "Es gibt offene Weiterleitungen."),
        ("assessed", "closed", Guards(has_assessment=True, pending_referrals=2), "", "Es gibt offene Weiterleitungen."),
    ],
)
def test_guards_refuse_with_a_reason(
    session: Session, case: Case, source: str, target: str, guards: Guards, reason: str, message: str
) -> None:
    case.status = source
    session.flush()
    with pytest.raises(TransitionRefused) as refused:
        workflow.transition(session, case, target, actor_id=None, actor_role="officer", guards=guards, reason=reason)
    assert refused.value.reason.startswith(message)
    assert case.status == source
    # With what the guard asks for, the same step goes through.
    workflow.transition(
        session,
        case,
        target,
        actor_id=None,
        actor_role="officer",
        guards=Guards(has_assessment=True, pending_referrals=guards.pending_referrals),
        reason="Grund",
    )
    assert case.status == target


@pytest.mark.parametrize(
    ("source", "target", "steps", "refused"),
    [
        ("received", "assessed", ["received->in_review", "in_review->assessed"], None),
        ("in_review", "assessed", ["in_review->assessed"], None),
        ("assessed", "assessed", [], None),
        ("referred", "assessed", [], None),  # a second assessment does not move a referred case back
        ("awaiting_feedback", "referred", [], None),
        ("in_review", "referred", ["in_review->assessed", "assessed->referred"], None),
        ("closed", "assessed", [], "Der Fall ist abgeschlossen."),
        ("withdrawn", "assessed", [], "zurückgezogen"),
    ],
)
def test_advance_walks_the_states_between_each_one_audited(
    session: Session, case: Case, source: str, target: str, steps: list[str], refused: str | None
) -> None:
    case.status = source
    session.flush()
    before, _timeline = _trail(session, case)
    reason = workflow.advance(
        session, case, target, actor_id=None, actor_role="officer", guards=Guards(has_assessment=True)
    )
    details, _timeline = _trail(session, case)
    assert details == [*before, *steps]
    if refused is None:
        assert reason is None
        assert case.status == (target if steps else source)
    else:
        assert reason is not None
        assert refused in reason
        assert case.status == source


def test_advance_stops_at_a_guard_and_says_why(session: Session, case: Case) -> None:
    reason = workflow.advance(
        session, case, "assessed", actor_id=None, actor_role="officer", guards=Guards(has_assessment=False)
    )
    assert reason == "Bitte erfassen Sie zuerst die Bewertung."
    assert case.status == "in_review"  # the steps it could take are taken, each audited


def test_every_timeline_entry_has_staff_words() -> None:
    from reporting.codes import EVENT_WORDS

    for kind in EVENT_WORDS:
        text = workflow.timeline_text(kind, None)
        assert kind not in text, kind
        assert not text.startswith(("Ihre", "Sie ")), kind
    assert workflow.timeline_text("forwarded", "police") == "Weiterleitung gesendet an: Polizei"
    assert workflow.timeline_text("consent_withdrawn", "police").endswith(": Weitergabe an die Polizei")
    assert workflow.timeline_text("something_new", None) == "Sonstiger Schritt"


# Through HTTP ------------------------------------------------------------------------------------------


def _status(client, case_id: str, target: str, reason: str = ""):  # type: ignore[no-untyped-def]
    return client.post(
        f"/clearing/fall/{case_id}/status", data={"target": target, "reason": reason, "csrf_token": staff_csrf(client)}
    )


ASSESSMENT = {
    "urgency": "normal",
    "escalation_level": "1",
    "incident_types": ["insult_defamation"],
    "motives": ["racism"],
}


def test_the_whole_workflow_over_http_with_the_reporters_timeline(
    app: Flask, session: Session, town_a: Town, officer_a: Person
) -> None:
    submitted = submit_case(session, config_of(app), town_a)
    client = logged_in_client(app, officer_a)
    assert _status(client, submitted.id, "in_review").status_code == 303

    refused = _status(client, submitted.id, "assessed")
    assert refused.status_code == 200
    assert "Bitte erfassen Sie zuerst die Bewertung." in refused.get_data(as_text=True)
    assert case_row(session, submitted.id).status == "in_review"

    token = staff_csrf(client)
    saved = client.post(f"/clearing/fall/{submitted.id}/bewertung", data={**ASSESSMENT, "csrf_token": token})
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith("#bewertung")  # back to the section saved
    assert case_row(session, submitted.id).status == "assessed"  # saving the assessment moves the case on
    assert "Die Bewertung wurde gespeichert. Status: Bewertet." in client.get(saved.headers["Location"]).get_data(
        as_text=True
    )
    closed = _status(client, submitted.id, "closed")
    assert closed.status_code == 303
    assert closed.headers["Location"].endswith("#ablauf")

    refused = _status(client, submitted.id, "in_review")
    assert "Bitte geben Sie einen Grund für die Wiederaufnahme an." in refused.get_data(as_text=True)
    assert case_row(session, submitted.id).status == "closed"
    assert _status(client, submitted.id, "in_review", "Neue Hinweise der meldenden Person").status_code == 303
    assert case_row(session, submitted.id).status == "in_review"
    # The reason is kept, as an encrypted note only.
    notes = session.scalars(select(CaseNote).where(CaseNote.case_id == submitted.id)).all()
    assert len(notes) == 1
    assert b"Neue Hinweise" not in notes[0].ciphertext
    assert "Neue Hinweise der meldenden Person" in client.get(f"/clearing/fall/{submitted.id}").get_data(as_text=True)

    details = session.scalars(
        select(AuditEvent.detail)
        .where(AuditEvent.target_id == submitted.id, AuditEvent.action == "case.transition")
        .order_by(AuditEvent.seq)
    ).all()
    assert details == ["received->in_review", "in_review->assessed", "assessed->closed", "closed->in_review"]
    mailbox = mailbox_view(session, open_mailbox(session, config_of(app), submitted.receipt_code))
    assert [s.kind for s in mailbox.steps] == [
        "received",
        "consent_granted",
        "in_review",
        "assessed",
        "closed",
        "reopened",
    ]


def test_the_case_page_has_a_section_navigation_and_a_staff_timeline(
    app: Flask, session: Session, town_a: Town, officer_a: Person
) -> None:
    submitted = submit_case(session, config_of(app), town_a)
    client = logged_in_client(app, officer_a)
    page = client.get(f"/clearing/fall/{submitted.id}").get_data(as_text=True)
    nav = page[page.index('<nav class="section-nav"') : page.index("</nav>", page.index('<nav class="section-nav"'))]
    anchors = ["meldung", "bewertung", "weiterleitungen", "nachrichten", "ablauf", "notizen", "verlauf"]
    for anchor in anchors:
        assert f'href="#{anchor}"' in nav
        assert f'id="{anchor}"' in page
    # The sections come in the order the navigation lists them.
    assert [page.index(f'<h2 id="{a}"') for a in anchors] == sorted(page.index(f'<h2 id="{a}"') for a in anchors)
    assert "Meldung eingegangen" in page
    assert "Ihre Meldung ist eingegangen" not in page
    token = staff_csrf(client)
    sent = client.post(f"/clearing/fall/{submitted.id}/nachricht", data={"body": "Guten Tag", "csrf_token": token})
    assert sent.headers["Location"].endswith("#nachrichten")
    note = client.post(f"/clearing/fall/{submitted.id}/notiz", data={"note": "intern", "csrf_token": token})
    assert note.headers["Location"].endswith("#notizen")
    assign = client.post(
        f"/clearing/fall/{submitted.id}/zustaendig", data={"officer": officer_a.id, "csrf_token": token}
    )
    assert assign.headers["Location"].endswith("#ablauf")
    page = client.get(f"/clearing/fall/{submitted.id}").get_data(as_text=True)
    assert "Nachricht an die meldende Person gesendet" in page


def test_an_assessment_on_a_closed_case_is_saved_and_the_flash_says_why_the_status_stays(
    app: Flask, session: Session, town_a: Town, officer_a: Person
) -> None:
    submitted = submit_case(session, config_of(app), town_a)
    case_row(session, submitted.id).status = "closed"
    session.commit()
    client = logged_in_client(app, officer_a)
    saved = client.post(
        f"/clearing/fall/{submitted.id}/bewertung", data={**ASSESSMENT, "csrf_token": staff_csrf(client)}
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Die Bewertung wurde gespeichert." in page
    assert "Der Status bleibt „Abgeschlossen“: Der Fall ist abgeschlossen." in page
    assert case_row(session, submitted.id).status == "closed"
    assert session.get(Assessment, submitted.id) is not None


def test_the_case_page_offers_only_the_allowed_steps(
    app: Flask, session: Session, town_a: Town, officer_a: Person
) -> None:
    submitted = submit_case(session, config_of(app), town_a)
    page = logged_in_client(app, officer_a).get(f"/clearing/fall/{submitted.id}").get_data(as_text=True)
    assert 'value="in_review"' in page
    assert 'value="withdrawn"' in page
    assert 'value="closed"' not in page
    assert 'value="assessed"' not in page


# Deadlines ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2000, 1, 31), 1, date(2000, 2, 29)),  # divisible by 400: leap
        (date(2100, 1, 31), 1, date(2100, 2, 28)),  # divisible by 100: no leap
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2023, 11, 30), 3, date(2024, 2, 29)),
        (date(2024, 5, 31), 1, date(2024, 6, 30)),
        (date(2024, 8, 31), 6, date(2025, 2, 28)),
        (date(2024, 12, 31), 2, date(2025, 2, 28)),
        (date(2023, 12, 15), 1, date(2024, 1, 15)),
        (date(2025, 3, 6), 3, date(2025, 6, 6)),
        (date(2025, 10, 31), 3, date(2026, 1, 31)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 1, 15), 0, date(2024, 1, 15)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize("offence", ["s185", "s186", "s187", "s188"])
def test_complaint_deadline_for_offences_prosecuted_on_complaint(offence: str) -> None:
    assert complaint_deadline(date(2025, 3, 6), [offence]) == date(2025, 6, 6)
    assert complaint_deadline(date(2024, 11, 30), ["s241", offence]) == date(2025, 2, 28)
    assert complaint_deadline(None, [offence]) is None


@pytest.mark.parametrize(
    "offences", [[], ["s126a"], ["s130"], ["s240"], ["s241"], ["s223"], ["s238"], ["s303"], ["s130", "s241"]]
)
def test_no_complaint_deadline_for_other_offences(offences: list[str]) -> None:
    assert complaint_deadline(date(2025, 3, 6), offences) is None


def test_case_deadlines() -> None:
    received = utcnow().replace(year=2025, month=1, day=31, hour=10)
    today = date(2025, 2, 5)
    ack, feedback, complaint = case_deadlines(received, None, False, date(2025, 4, 30), today)
    assert (ack.name, ack.due, ack.met, ack.overdue, ack.days_left) == (
        "acknowledgement",
        date(2025, 2, 7),
        False,
        False,
        2,
    )
    assert (feedback.name, feedback.due, feedback.overdue) == ("feedback", date(2025, 4, 30), False)
    assert (complaint.name, complaint.due) == ("complaint", date(2025, 4, 30))
    late = case_deadlines(received, None, False, None, date(2025, 5, 1))
    assert [(d.name, d.overdue) for d in late] == [("acknowledgement", True), ("feedback", True)]
    acknowledged = case_deadlines(received, received + timedelta(days=1), True, None, date(2025, 5, 1))
    assert [(d.name, d.met, d.overdue) for d in acknowledged] == [
        ("acknowledgement", True, False),
        ("feedback", True, False),
    ]


def _deadline_line(page: str, title: str) -> str:
    start = page.index(title)
    return " ".join(page[start : page.index("</dd>", start)].split())


def test_first_office_message_meets_the_acknowledgement_deadline(
    app: Flask, session: Session, town_a: Town, officer_a: Person
) -> None:
    submitted = submit_case(session, config_of(app), town_a)
    case = case_row(session, submitted.id)
    case.received_at = utcnow() - timedelta(days=10)
    session.commit()
    client = logged_in_client(app, officer_a)
    page = client.get(f"/clearing/fall/{submitted.id}").get_data(as_text=True)
    assert "überfällig seit 3 Tagen" in _deadline_line(page, "Eingangsbestätigung (7 Tage)")
    assert "Strafantragsfrist" not in page

    response = client.post(
        f"/clearing/fall/{submitted.id}/nachricht",
        data={"body": "Wir haben Ihre Meldung erhalten.", "csrf_token": staff_csrf(client)},
    )
    assert response.status_code == 303
    acknowledged_at = case_row(session, submitted.id).acknowledged_at
    assert acknowledged_at is not None
    page = client.get(f"/clearing/fall/{submitted.id}").get_data(as_text=True)
    assert "erledigt" in _deadline_line(page, "Eingangsbestätigung (7 Tage)")

    # A second message does not move the date the deadline was met.
    client.post(
        f"/clearing/fall/{submitted.id}/nachricht",
        data={"body": "Noch eine Nachricht.", "csrf_token": staff_csrf(client)},
    )
    assert case_row(session, submitted.id).acknowledged_at == acknowledged_at


def test_the_complaint_deadline_is_shown_after_the_assessment(
    app: Flask, session: Session, town_a: Town, officer_a: Person
) -> None:
    submitted = submit_case(session, config_of(app), town_a)
    client = logged_in_client(app, officer_a)
    known_on = date.today() - timedelta(days=10)
    data = {
        **ASSESSMENT,
        "offences": ["s188", "s241"],
        "known_on": known_on.isoformat(),
        "csrf_token": staff_csrf(client),
    }
    assert client.post(f"/clearing/fall/{submitted.id}/bewertung", data=data).status_code == 303
    assessment = session.get(Assessment, submitted.id)
    assert assessment is not None
    assert assessment.complaint_deadline == add_months(known_on, 3)
    page = client.get(f"/clearing/fall/{submitted.id}").get_data(as_text=True)
    line = _deadline_line(page, "Strafantragsfrist (§ 77b StGB)")
    assert f"noch {(add_months(known_on, 3) - date.today()).days} Tage" in line

    # Without an offence prosecuted on complaint, no complaint deadline.
    data = {**ASSESSMENT, "offences": ["s241"], "known_on": known_on.isoformat(), "csrf_token": staff_csrf(client)}
    assert client.post(f"/clearing/fall/{submitted.id}/bewertung", data=data).status_code == 303
    session.expire_all()
    assessment = session.get(Assessment, submitted.id)
    assert assessment is not None
    assert assessment.complaint_deadline is None
    assert "Strafantragsfrist (§ 77b StGB)" not in client.get(f"/clearing/fall/{submitted.id}").get_data(as_text=True)


def test_closing_with_an_open_referral_needs_a_reason(
    app: Flask, session: Session, town_a: Town, officer_a: Person
) -> None:
    submitted = submit_case(session, config_of(app), town_a)
    add_example_alliance(session, town_a)
    client = logged_in_client(app, officer_a)
    assert _status(client, submitted.id, "in_review").status_code == 303
    assert (
        client.post(
            f"/clearing/fall/{submitted.id}/bewertung", data={**ASSESSMENT, "csrf_token": staff_csrf(client)}
        ).status_code
        == 303
    )
    assert case_row(session, submitted.id).status == "assessed"
    refer_case(session, town_a, officer_a, submitted.id, "opferberatung")
    assert case_row(session, submitted.id).status == "referred"  # sending moves the case on

    refused = _status(client, submitted.id, "closed")
    assert refused.status_code == 200
    assert "Es gibt offene Weiterleitungen." in refused.get_data(as_text=True)
    assert case_row(session, submitted.id).status == "referred"
    assert _status(client, submitted.id, "closed", "Die Beratungsstelle hat übernommen.").status_code == 303
    assert case_row(session, submitted.id).status == "closed"


def test_referring_a_reopened_case_moves_it_on_through_assessed(
    app: Flask, session: Session, town_a: Town, officer_a: Person
) -> None:
    submitted = submit_case(session, config_of(app), town_a)
    add_example_alliance(session, town_a)
    client = logged_in_client(app, officer_a)
    token = staff_csrf(client)
    assert (
        client.post(f"/clearing/fall/{submitted.id}/bewertung", data={**ASSESSMENT, "csrf_token": token}).status_code
        == 303
    )
    assert _status(client, submitted.id, "closed").status_code == 303
    assert _status(client, submitted.id, "in_review", "Neue Hinweise").status_code == 303
    refer_case(session, town_a, officer_a, submitted.id, "opferberatung")
    session.expire_all()
    assert case_row(session, submitted.id).status == "referred"
    details, _timeline = _trail(session, case_row(session, submitted.id))
    assert details[-2:] == ["in_review->assessed", "assessed->referred"]
