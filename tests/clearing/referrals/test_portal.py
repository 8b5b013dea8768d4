"""The partner portal: who sees which referral, the partner's states and feedback, deadlines, colleagues.

A refused partner learns nothing: a referral of another organisation (of the same or another
municipality) gives the same 404 page as an id that does not exist, and the refused request
changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import format_date
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from clearing.audit.models import AuditEvent
from clearing.partners.models import PartnerKeyGrant
from clearing.referrals.models import Referral, ReferralUpdate
from core.config import Config
from core.db import utcnow
from tests.factories import (
    Alliance,
    Person,
    Reported,
    add_partner,
    add_person,
    build_alliance,
    missing_id,
    pdf_with,
    referral_to,
)
from tests.web import (
    flashes,
    log_in,
    logged_in_client,
    normalised,
    offered_files,
    officer_path,
    post,
    refer,
    submit_report_form,
)

DESCRIPTION = "Eine rassistische Mail an das Bürgerbüro."


@pytest.fixture
def alliance(session: Session, config: Config) -> Alliance:
    return build_alliance(session, config, "astadt", "Astadt")


def _sent(
    app: Flask, session: Session, alliance: Alliance, *partner_keys: str, **report: object
) -> tuple[Reported, FlaskClient, dict[str, Referral]]:
    """A report, assessed and referred to the partners named; returns the officer's client too."""
    reported = submit_report_form(app, session, alliance.town, **report)  # type: ignore[arg-type]
    officer = officer_path(app, alliance, reported.case_id)
    for key in partner_keys:
        assert (
            refer(
                officer, reported.case_id, key, files=list(offered_files(officer, reported.case_id, key).values())
            ).status_code
            == 303
        )
    return (
        reported,
        officer,
        {key: referral_to(session, reported.case_id, alliance.partner_ids[key]) for key in partner_keys},
    )


def _page(client: FlaskClient, path: str) -> tuple[int, str]:
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True)


def _rows(session: Session) -> tuple[object, ...]:
    session.expire_all()
    referrals = tuple(
        session.execute(select(Referral.id, Referral.state, Referral.opened_at, Referral.outcome).order_by(Referral.id))
    )
    return (
        referrals,
        session.scalar(select(func.count()).select_from(ReferralUpdate)),
        session.scalar(select(func.count()).select_from(PartnerKeyGrant)),
    )


# Who sees what -----------------------------------------------------------------------------------------------


def test_partner_users_see_only_referrals_to_their_organisation(
    app: Flask, session: Session, config: Config, alliance: Alliance
) -> None:
    other_town = build_alliance(session, config, "bstadt", "Bstadt")
    reported, _officer, sent = _sent(
        app,
        session,
        alliance,
        "opferberatung",
        "polizei-staatsschutz",
        consent_police="y",
        files=[("beleg.pdf", pdf_with("beleg"))],
    )
    referral, waiting = sent["opferberatung"], sent["polizei-staatsschutz"]
    assert waiting.state == "awaiting_approval"  # four eyes: the police sees nothing yet
    path = f"/partner/weiterleitung/{referral.id}"
    nowhere = missing_id()

    own = logged_in_client(app, alliance.partners["opferberatung"])
    status, page = _page(own, "/partner/")
    assert status == 200
    assert referral.id in page
    assert waiting.id not in page
    status, page = _page(own, path)
    assert status == 200
    assert DESCRIPTION in page
    file_link = page.split(f"{path}/datei/", 1)[1].split('"', 1)[0]
    assert own.get(f"{path}/datei/{file_link}").data == pdf_with("beleg")

    police = logged_in_client(app, alliance.partners["polizei-staatsschutz"])
    assert waiting.id not in police.get("/partner/").get_data(as_text=True)
    assert police.get(f"/partner/weiterleitung/{waiting.id}").status_code == 404

    outsiders = {
        "same municipality, other organisation": alliance.partners["antidiskriminierung"],
        "other municipality, same kind of partner": other_town.partners["opferberatung"],
    }
    for what, person in outsiders.items():
        client = logged_in_client(app, person)
        before = _rows(session)
        status, refused = _page(client, path)
        missing_status, missing_page = _page(client, f"/partner/weiterleitung/{nowhere}")
        assert (status, missing_status) == (404, 404), what
        assert normalised(refused, [referral.id]) == normalised(missing_page, [nowhere]), what
        assert referral.id not in client.get("/partner/").get_data(as_text=True), what
        assert post(client, path, {"state": "received", "text": "gelesen"}).status_code == 404, what
        assert client.get(f"{path}/datei/{file_link}").status_code == 404, what
        assert _rows(session) == before, what

    # Staff of the clearing office and the network never reach the portal.
    operator = add_person(session, config, None, "netzwerk", role="network_operator")
    for person in (alliance.officer2, alliance.coordinator, operator):
        client = logged_in_client(app, person)
        for partner_path in ("/partner/", path, f"{path}/datei/{file_link}", "/partner/kolleginnen"):
            assert client.get(partner_path).status_code == 404, (person.login, partner_path)
        assert post(client, path, {"state": "received"}).status_code == 404
    assert _rows(session)[0] == before[0]

    # Partner users never reach the clearing office's pages.
    for clearing_path in (
        "/clearing/",
        f"/clearing/fall/{reported.case_id}",
        f"/clearing/fall/{reported.case_id}/weiterleiten/opferberatung",
        "/verwaltung/vereinbarungen",
        "/verwaltung/partner",
        "/verwaltung/team",
    ):
        assert own.get(clearing_path).status_code == 404, clearing_path
    assert post(own, f"/clearing/fall/{reported.case_id}/weiterleitung/{waiting.id}/freigeben").status_code == 404
    assert post(own, f"/clearing/fall/{reported.case_id}/weiterleiten/opferberatung").status_code == 404
    session.expire_all()
    assert session.get(Referral, waiting.id).state == "awaiting_approval"  # type: ignore[union-attr]


# States and feedback -----------------------------------------------------------------------------------------


def _update(client: FlaskClient, path: str, **form: str) -> tuple[int, str]:
    token = (
        client.get(path).get_data(as_text=True).split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    )
    response = client.post(path, data={"csrf_token": token, **form})
    if response.status_code == 303:
        return 303, flashes(client.get(response.headers["Location"]).get_data(as_text=True))
    return response.status_code, flashes(response.get_data(as_text=True))


def _state(session: Session, referral_id: str) -> tuple[str, str | None]:
    session.expire_all()
    referral = session.get(Referral, referral_id)
    assert referral is not None
    return referral.state, referral.outcome


def test_partner_states_follow_the_allowed_order_and_feedback_reaches_the_office_encrypted(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    reported, officer, sent = _sent(app, session, alliance, "opferberatung", "antidiskriminierung")
    referral = sent["opferberatung"]
    path = f"/partner/weiterleitung/{referral.id}"
    partner = logged_in_client(app, alliance.partners["opferberatung"])
    assert referral.opened_at is None

    page = partner.get(path).get_data(as_text=True)
    assert DESCRIPTION in page
    session.expire_all()
    opened = session.get(Referral, referral.id)
    assert opened is not None
    assert opened.opened_at is not None
    assert opened.state == "sent"
    assert (
        "referral.opened" in session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == referral.id)).all()
    )

    not_now = "Dieser Schritt ist im aktuellen Stand nicht möglich."
    steps: list[tuple[dict[str, str], str, tuple[str, str | None]]] = [
        ({"state": "in_progress"}, not_now, ("sent", None)),
        ({"state": "completed", "outcome": "no_action"}, not_now, ("sent", None)),
        ({"state": "received"}, "verschlüsselt an die Clearingstelle gesendet", ("received", None)),
        ({"state": "received"}, not_now, ("received", None)),
        ({"state": "declined"}, "Bitte geben Sie einen Grund für die Ablehnung an.", ("received", None)),
        ({"state": "accepted", "text": "Wir übernehmen den Fall."}, "verschlüsselt", ("accepted", None)),
        ({"state": "completed"}, "Bitte wählen Sie ein Ergebnis.", ("accepted", None)),
        ({"state": "completed", "outcome": "made_up"}, "", ("accepted", None)),
        ({"state": "in_progress"}, "verschlüsselt", ("in_progress", None)),
        ({}, "Bitte wählen Sie einen neuen Stand oder schreiben Sie eine Rückmeldung.", ("in_progress", None)),
        ({"state": "archived"}, not_now, ("in_progress", None)),
        (
            {"state": "completed", "outcome": "counselling_started", "text": "Die Beratung hat am Montag begonnen."},
            "verschlüsselt",
            ("completed", "counselling_started"),
        ),
        ({"state": "accepted"}, not_now, ("completed", "counselling_started")),
        ({"text": "Nachtrag: zweiter Termin vereinbart."}, "verschlüsselt", ("completed", "counselling_started")),
    ]
    for form, message, expected in steps:
        status, text = _update(partner, path, **form)
        assert message in text, (form, text[:400])
        assert _state(session, referral.id) == expected, form
        assert status in (200, 303)

    updates = session.scalars(
        select(ReferralUpdate).where(ReferralUpdate.referral_id == referral.id).order_by(ReferralUpdate.at)
    ).all()
    assert [u.state for u in updates] == ["received", "accepted", "in_progress", "completed", None]
    for row in updates:
        if row.ciphertext is not None:
            for secret in ("Wir übernehmen", "Beratung hat am Montag", "Nachtrag", "zweiter Termin"):
                assert secret.encode() not in row.ciphertext
    partner_page = partner.get(path).get_data(as_text=True)
    assert "Die Beratung hat am Montag begonnen." in partner_page

    # Declining needs a reason, which the office reads.
    anti = logged_in_client(app, alliance.partners["antidiskriminierung"])
    anti_path = f"/partner/weiterleitung/{sent['antidiskriminierung'].id}"
    assert "Bitte geben Sie einen Grund" in _update(anti, anti_path, state="declined")[1]
    assert _update(anti, anti_path, state="declined", text="Nicht unser Zuständigkeitsbereich.")[0] == 303
    assert _state(session, sent["antidiskriminierung"].id) == ("declined", None)

    office = officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    for text in (
        "Wir übernehmen den Fall.",
        "Die Beratung hat am Montag begonnen.",
        "Nachtrag: zweiter Termin vereinbart.",
        "Nicht unser Zuständigkeitsbereich.",
    ):
        assert text in office
    assert "abgeschlossen" in office
    assert "abgelehnt" in office


# Deadlines ------------------------------------------------------------------------------------------------------------


def test_deadlines_are_shown_to_both_sides_and_overdue_ones_stand_out(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    reported, officer, sent = _sent(app, session, alliance, "opferberatung")
    referral = sent["opferberatung"]
    assert referral.sent_at is not None
    assert referral.due_at is not None
    assert (
        round((referral.due_at - referral.sent_at).total_seconds()) == 5 * 86400
    )  # response_days of the counselling centre
    with app.test_request_context():
        due = format_date(referral.due_at)
    partner = logged_in_client(app, alliance.partners["opferberatung"])
    path = f"/partner/weiterleitung/{referral.id}"

    portal = partner.get("/partner/").get_data(as_text=True)
    office = officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    assert due in portal
    assert f"Antwort bis {due}" in office
    for page in (portal, office, partner.get(path).get_data(as_text=True)):
        assert "überfällig" not in page
        assert "row-overdue" not in page
        assert "deadline-overdue" not in page.split('id="weiterleitungen"', 1)[-1]

    session.execute(update(Referral).where(Referral.id == referral.id).values(due_at=utcnow() - timedelta(days=2)))
    session.commit()
    session.expire_all()
    stored = session.get(Referral, referral.id)
    assert stored is not None
    assert stored.due_at is not None
    with app.test_request_context():
        past = format_date(stored.due_at)
    portal = partner.get("/partner/").get_data(as_text=True)
    row = portal.split(f"/partner/weiterleitung/{referral.id}", 1)[0].rsplit("<tr", 1)[1]
    assert "row-overdue" in row
    assert "überfällig" in portal
    assert past in portal
    office = officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    referral_section = office.split('id="weiterleitungen"', 1)[1]
    assert "deadline-overdue" in referral_section
    assert "überfällig" in referral_section
    assert "deadline-overdue" in partner.get(path).get_data(as_text=True)

    # Once the partner has acknowledged, nothing is overdue any more.
    assert _update(partner, path, state="received")[0] == 303
    assert "row-overdue" not in partner.get("/partner/").get_data(as_text=True)
    referral_section = (
        officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True).split('id="weiterleitungen"', 1)[1]
    )
    assert "deadline-overdue" not in referral_section


# Colleagues ---------------------------------------------------------------------------------------------------------


def test_a_new_partner_user_is_granted_by_a_colleague_and_can_then_read(
    app: Flask, session: Session, config: Config, alliance: Alliance
) -> None:
    _reported, _officer, sent = _sent(app, session, alliance, "opferberatung")
    path = f"/partner/weiterleitung/{sent['opferberatung'].id}"
    newcomer: Person = add_partner(session, config, alliance.town, "opferberatung", "neu-beratung")
    fresh = logged_in_client(app, newcomer)
    assert "noch keinen Zugang" in fresh.get("/partner/").get_data(as_text=True)
    page = fresh.get(path).get_data(as_text=True)
    assert "Weiterleitung nicht lesbar" in page
    assert DESCRIPTION not in page

    colleague = logged_in_client(app, alliance.partners["opferberatung"])
    page = colleague.get("/partner/kolleginnen").get_data(as_text=True)
    assert "neu-beratung" in page
    assert f"/partner/kolleginnen/{newcomer.id}" in page

    # Nobody outside the organisation can be given its key.
    before = _rows(session)
    for outsider in (alliance.partners["antidiskriminierung"].id, alliance.officer.id, missing_id()):
        response = post(colleague, f"/partner/kolleginnen/{outsider}")
        assert "kann nicht freigeschaltet werden" in flashes(
            colleague.get(response.headers["Location"]).get_data(as_text=True)
        )
    assert _rows(session) == before
    # A user without the key cannot pass it on.
    response = post(fresh, f"/partner/kolleginnen/{newcomer.id}")
    assert "kann nicht freigeschaltet werden" in flashes(fresh.get(response.headers["Location"]).get_data(as_text=True))
    assert _rows(session) == before

    response = post(colleague, f"/partner/kolleginnen/{newcomer.id}")
    assert "hat jetzt Zugang" in flashes(colleague.get(response.headers["Location"]).get_data(as_text=True))
    assert "neu-beratung" not in colleague.get("/partner/kolleginnen").get_data(as_text=True)
    log_in(app, fresh, newcomer)
    assert DESCRIPTION in fresh.get(path).get_data(as_text=True)
