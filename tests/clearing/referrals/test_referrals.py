"""Referrals over HTTP: preview, the packet, four eyes, the partner's mail, withdrawal, key rotation.

Every step goes through the pages a reporter, an officer, a coordinator and a partner use; the
tests then read the stored rows and decrypt the packet with the partner organisation's key.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

import crypto
from clearing.audit.models import AuditEvent
from clearing.partners.models import PartnerKeyGrant
from clearing.partners.service import save_agreement
from clearing.referrals.models import Referral, ReferralFile
from clearing.referrals.packet import FIELD_LABELS
from clearing.referrals.service import referral_reference
from core.config import Config
from reporting.models import Attachment
from tests.conftest import make_test_config
from tests.factories import (
    Alliance,
    add_person,
    build_alliance,
    case_row,
    decrypt_files,
    decrypt_packet,
    example_spec,
    notify_address,
    office_private_key,
    partner_org,
    partner_private_key,
    pdf_with,
    referral_key_for_partner,
    referral_to,
)
from tests.smtp import SmtpServer
from tests.web import (
    FILE_INPUT_RE,
    change_consents,
    flashes,
    log_in,
    logged_in_client,
    mail_text,
    mailbox_client,
    mails_to,
    officer_path,
    post,
    refer,
    submit_report_form,
)
from workers.models import OutboxEntry


@pytest.fixture
def app_config(migrated_database: str, tmp_path: Path, smtp_server: SmtpServer) -> Config:
    return make_test_config(migrated_database, tmp_path / "instance", smtp_url=smtp_server.url)


@pytest.fixture
def alliance(session: Session, config: Config) -> Alliance:
    return build_alliance(session, config, "astadt", "Astadt")


def _labels(app: Flask, fields: tuple[str, ...]) -> list[str]:
    with app.test_request_context():
        return [html.escape(str(FIELD_LABELS[f]), quote=False) for f in fields if f != "files"]


def _preview_labels(page: str) -> list[str]:
    listing = page.split('<dl class="report">', 1)[1].split("</dl>", 1)[0]
    return [label.strip() for label in re.findall(r"<dt>(.*?)</dt>", listing, re.S)]


def _audit_actions(session: Session, target_id: str) -> list[tuple[str, str | None]]:
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.actor_id).where(AuditEvent.target_id == target_id).order_by(AuditEvent.id)
    )
    return [(action, actor) for action, actor in rows]


# What the officer sees and what the partner gets -----------------------------------------------------


def test_recommendations_preview_and_packet_hold_only_the_agreed_fields(
    app: Flask, session: Session, config: Config, alliance: Alliance, smtp_server: SmtpServer
) -> None:
    town = alliance.town
    # A second version is active when the referral is made; the referral must record it.
    save_agreement(session, town.id, example_spec(town), actor_id=None, actor_role="cli")
    session.commit()
    reported = submit_report_form(
        app, session, town, files=[("erster.pdf", pdf_with("eins")), ("zweiter.pdf", pdf_with("zwei"))]
    )
    officer = officer_path(app, alliance, reported.case_id)

    case_page = officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    recommendations = case_page.split("Empfehlungen nach Vereinbarung Version 2", 1)[1]
    cards = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<div class="card[^"]*">\s*<h4>([^<]+?) <span.*?</div>', recommendations, re.S)
    }
    police_name = partner_org(session, town, "polizei-staatsschutz").name
    assert "card-blocked" in cards[police_name]
    assert "Es fehlt die Einwilligung: Weitergabe an die Polizei." in cards[police_name]
    for key in ("opferberatung", "personalamt", "antidiskriminierung"):
        card = cards[partner_org(session, town, key).name]
        assert "card-blocked" not in card
        assert f"/weiterleiten/{key}" in card

    spec = example_spec(town)
    for key in ("opferberatung", "personalamt", "antidiskriminierung"):
        page = officer.get(f"/clearing/fall/{reported.case_id}/weiterleiten/{key}").get_data(as_text=True)
        rule = spec.rule_for(key)
        assert rule is not None
        assert _preview_labels(page) == _labels(app, rule.fields), key
        assert "Vereinbarung Version 2" in page
    anti = officer.get(f"/clearing/fall/{reported.case_id}/weiterleiten/antidiskriminierung").get_data(as_text=True)
    shown = anti.split('<dl class="report">', 1)[1].split("</dl>", 1)[0]
    assert "Eine rassistische Mail an das Bürgerbüro." in shown
    for absent in (
        "Bürgerbüro am Markt",
        "example.org/beitrag",
        "Fantasienamen",
        "betroffen@example.org",
        "erster.pdf",
    ):
        assert absent not in anti, absent

    preview = officer.get(f"/clearing/fall/{reported.case_id}/weiterleiten/opferberatung").get_data(as_text=True)
    offered = {name: file_id for file_id, name in FILE_INPUT_RE.findall(preview)}
    assert set(offered) == {"erster.pdf", "zweiter.pdf"}

    # Confirm: counselling with one of the two files; the anti-discrimination office (no files in its fields).
    response = refer(officer, reported.case_id, "opferberatung", files=[offered["erster.pdf"]])
    assert response.status_code == 303
    assert "verschlüsselt gesendet" in flashes(officer.get(response.headers["Location"]).get_data(as_text=True))
    assert refer(officer, reported.case_id, "antidiskriminierung").status_code == 303

    counselling = referral_to(session, reported.case_id, alliance.partner_ids["opferberatung"])
    assert (counselling.state, counselling.agreement_version, counselling.rule) == (
        "sent",
        2,
        "partners[0]:opferberatung",
    )
    counselling_key = referral_key_for_partner(
        counselling, partner_private_key(session, config, alliance.partners["opferberatung"])
    )
    packet = decrypt_packet(counselling, counselling_key)
    assert set(packet) == {
        "incident",
        "description",
        "place",
        "urls",
        "perpetrator",
        "affected_role",
        "already_done",
        "contact",
    }
    assert packet["description"] == "Eine rassistische Mail an das Bürgerbüro."
    assert packet["contact"]["contact_email"] == "betroffen@example.org"
    assert packet["urls"] == ["https://example.org/beitrag/1"]
    assert decrypt_files(session, counselling, counselling_key) == [("erster.pdf", pdf_with("eins"))]

    anti_referral = referral_to(session, reported.case_id, alliance.partner_ids["antidiskriminierung"])
    anti_key = referral_key_for_partner(
        anti_referral, partner_private_key(session, config, alliance.partners["antidiskriminierung"])
    )
    anti_packet = decrypt_packet(anti_referral, anti_key)
    assert set(anti_packet) == {"incident", "description", "affected_role"}
    flat = repr(anti_packet)
    for absent in ("Bürgerbüro am Markt", "example.org", "Fantasienamen", "citizen", "betroffen@"):
        assert absent not in flat, absent
    assert decrypt_files(session, anti_referral, anti_key) == []
    # The office reads the same packet through its own copy of the referral key.
    office_copy = referral_to(session, reported.case_id, alliance.partner_ids["antidiskriminierung"])
    assert office_copy.sealed_key_office is not None
    office_key = crypto.open_sealed(
        office_private_key(session, town),
        office_copy.sealed_key_office,
        purpose="referral-key",
        record_id=office_copy.id,
    )
    assert decrypt_packet(office_copy, office_key) == anti_packet

    # One mail per partner; it says that a referral waits and nothing else.
    for partner_key in ("opferberatung", "antidiskriminierung"):
        (message,) = mails_to(smtp_server, notify_address(town, partner_key))
        text = mail_text(message)
        assert "Eine Weiterleitung wartet" in text
        for absent in (
            partner_org(session, town, partner_key).name,
            "Beratung",
            "Antidiskriminierung",
            "rassistisch",
            case_row(session, reported.case_id).reference,
            reported.case_id,
            counselling.id,
            anti_referral.id,
        ):
            assert absent not in text, absent

    # The reporter's mailbox names the kind of partner, never the organisation.
    mailbox = mailbox_client(app, reported.receipt_code).get("/postfach/ansicht").get_data(as_text=True)
    assert "Weitergeleitet an: eine Beratungsstelle" in mailbox
    assert "Weitergeleitet an: eine Antidiskriminierungsstelle" in mailbox
    assert partner_org(session, town, "opferberatung").name not in mailbox


def test_refused_referrals_leave_nothing_behind(app: Flask, session: Session, alliance: Alliance) -> None:
    """Blocked partner, a file the agreement does not allow, a file of another case, a second referral."""
    town = alliance.town
    other = submit_report_form(app, session, town, files=[("fremd.pdf", pdf_with("fremd"))])
    reported = submit_report_form(app, session, town, files=[("eigen.pdf", pdf_with("eigen"))])
    officer = officer_path(app, alliance, reported.case_id)
    preview = officer.get(f"/clearing/fall/{reported.case_id}/weiterleiten/opferberatung").get_data(as_text=True)
    ((own_file, _name),) = FILE_INPUT_RE.findall(preview)
    session.expire_all()
    foreign_file = session.scalar(select(Attachment.id).where(Attachment.case_id == other.case_id))
    assert foreign_file is not None

    def count() -> int:
        session.expire_all()
        return session.scalar(select(func.count()).select_from(Referral)) or 0

    # Police without consent and without acute danger: blocked.
    response = refer(officer, reported.case_id, "polizei-staatsschutz")
    assert "gesperrt" in flashes(officer.get(response.headers["Location"]).get_data(as_text=True))
    # The anti-discrimination office may receive no files; a file of another case is never allowed.
    for partner_key, files in (
        ("antidiskriminierung", [own_file]),
        ("opferberatung", [foreign_file]),
        ("opferberatung", [own_file, foreign_file]),
    ):
        response = refer(officer, reported.case_id, partner_key, files=files)
        assert response.status_code == 303
        assert "nicht weitergegeben werden" in flashes(officer.get(response.headers["Location"]).get_data(as_text=True))
        assert count() == 0, (partner_key, files)
    assert session.scalar(select(func.count()).select_from(ReferralFile)) == 0
    # A second open referral to the same partner is refused.
    assert refer(officer, reported.case_id, "opferberatung", files=[own_file]).status_code == 303
    response = refer(officer, reported.case_id, "opferberatung")
    assert "bereits eine offene Weiterleitung" in flashes(
        officer.get(response.headers["Location"]).get_data(as_text=True)
    )
    assert count() == 1


# Four eyes ------------------------------------------------------------------------------------------


def test_acute_override_waits_for_a_second_officer_and_is_audited(
    app: Flask, session: Session, config: Config, alliance: Alliance, smtp_server: SmtpServer
) -> None:
    town = alliance.town
    reported = submit_report_form(
        app, session, town, acute_danger="yes", incident_types=["threat"], consent_employer=None
    )
    officer = officer_path(
        app,
        alliance,
        reported.case_id,
        urgency="acute",
        incident_types=["threat"],
        offences=["s241"],
        employer_duty=False,
    )
    page = officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    police = partner_org(session, town, "polizei-staatsschutz")
    card = page.split(f"<h4>{police.name}", 1)[1].split("</div>", 1)[0]
    assert "card-blocked" not in page.split(f"<h4>{police.name}", 1)[0].rsplit("<div", 1)[1]
    assert "Akute Gefahr für Leib oder Leben" in card
    assert "Vier-Augen-Prinzip" in card

    response = refer(officer, reported.case_id, "polizei-staatsschutz")
    assert "Eine zweite Fachkraft muss sie freigeben" in flashes(
        officer.get(response.headers["Location"]).get_data(as_text=True)
    )
    referral = referral_to(session, reported.case_id, police.id)
    assert (referral.state, referral.override, referral.four_eyes, referral.sent_at, referral.due_at) == (
        "awaiting_approval",
        True,
        True,
        None,
        None,
    )
    assert mails_to(smtp_server, notify_address(town, "polizei-staatsschutz")) == []

    # The same officer cannot give the second pair of eyes.
    approve = f"/clearing/fall/{reported.case_id}/weiterleitung/{referral.id}/freigeben"
    response = post(officer, approve)
    assert response.status_code == 303
    assert "Die Freigabe muss eine zweite Fachkraft erteilen" in flashes(
        officer.get(response.headers["Location"]).get_data(as_text=True)
    )
    assert referral_to(session, reported.case_id, police.id).state == "awaiting_approval"

    second = logged_in_client(app, alliance.officer2)
    assert "Als zweite Fachkraft freigeben" in second.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    response = post(second, approve)
    assert "freigegeben und gesendet" in flashes(second.get(response.headers["Location"]).get_data(as_text=True))
    referral = referral_to(session, reported.case_id, police.id)
    assert (referral.state, referral.approved_by, referral.created_by) == (
        "sent",
        alliance.officer2.id,
        alliance.officer.id,
    )
    assert referral.sent_at is not None
    assert referral.due_at is not None
    assert round((referral.due_at - referral.sent_at).total_seconds()) == 3 * 86400
    actions = _audit_actions(session, referral.id)
    assert ("referral.override_requested", alliance.officer.id) in actions
    assert ("referral.override_approved", alliance.officer2.id) in actions
    assert [a for a, _ in actions].index("referral.override_approved") < [a for a, _ in actions].index("referral.sent")

    # The police packet: its fields only, with the office's assessment.
    packet = decrypt_packet(
        referral,
        referral_key_for_partner(
            referral, partner_private_key(session, config, alliance.partners["polizei-staatsschutz"])
        ),
    )
    assert set(packet) == {"incident", "description", "place", "urls", "perpetrator", "assessment"}
    assert packet["assessment"]["urgency"] == "acute"
    assert packet["assessment"]["offences"] == ["s241"]

    (message,) = mails_to(smtp_server, notify_address(town, "polizei-staatsschutz"))
    text = mail_text(message)
    assert "Eine Weiterleitung wartet" in text
    for absent in (
        police.name,
        "Polizei",
        "Staatsschutz",
        "akut",
        "acute",
        "Bürgerbüro",
        case_row(session, reported.case_id).reference,
        reported.case_id,
        referral.id,
        referral_reference(referral.id),
    ):
        assert absent not in text, absent
    assert "Weitergeleitet an: die Polizei" in mailbox_client(app, reported.receipt_code).get(
        "/postfach/ansicht"
    ).get_data(as_text=True)


def test_four_eyes_without_override_also_needs_a_second_officer(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    town = alliance.town
    reported = submit_report_form(app, session, town, consent_police="y")
    officer = officer_path(app, alliance, reported.case_id)
    refer(officer, reported.case_id, "polizei-staatsschutz")
    referral = referral_to(session, reported.case_id, alliance.partner_ids["polizei-staatsschutz"])
    assert (referral.state, referral.override, referral.four_eyes) == ("awaiting_approval", False, True)
    post(
        logged_in_client(app, alliance.officer2),
        f"/clearing/fall/{reported.case_id}/weiterleitung/{referral.id}/freigeben",
    )
    assert referral_to(session, reported.case_id, referral.partner_id).state == "sent"
    assert [a for a, _ in _audit_actions(session, referral.id) if "override" in a] == []


# Withdrawal ------------------------------------------------------------------------------------------


def test_withdrawn_consent_cancels_unopened_and_withdraws_opened_referrals(
    app: Flask, session: Session, alliance: Alliance, smtp_server: SmtpServer
) -> None:
    town = alliance.town
    reported = submit_report_form(app, session, town, files=[("beleg.pdf", pdf_with("beleg"))])
    officer = officer_path(app, alliance, reported.case_id)
    preview = officer.get(f"/clearing/fall/{reported.case_id}/weiterleiten/opferberatung").get_data(as_text=True)
    ((file_id, _name),) = FILE_INPUT_RE.findall(preview)
    refer(officer, reported.case_id, "opferberatung", files=[file_id])
    refer(officer, reported.case_id, "antidiskriminierung")
    refer(officer, reported.case_id, "personalamt")
    ids = {
        key: referral_to(session, reported.case_id, alliance.partner_ids[key]).id
        for key in ("opferberatung", "antidiskriminierung", "personalamt")
    }
    assert (
        session.scalar(
            select(func.count()).select_from(ReferralFile).where(ReferralFile.referral_id == ids["opferberatung"])
        )
        == 1
    )

    # The anti-discrimination office opens its packet.
    anti = logged_in_client(app, alliance.partners["antidiskriminierung"])
    assert "Eine rassistische Mail" in anti.get(f"/partner/weiterleitung/{ids['antidiskriminierung']}").get_data(
        as_text=True
    )
    smtp_server.clear()

    # The reporter withdraws the counselling consent (both referrals depend on it) and keeps the employer's.
    change_consents(mailbox_client(app, reported.receipt_code), employer=True)

    session.expire_all()
    cancelled = session.get(Referral, ids["opferberatung"])
    assert cancelled is not None
    assert (
        cancelled.state,
        cancelled.sealed_key_partner,
        cancelled.sealed_key_office,
        cancelled.packet_ciphertext,
    ) == ("cancelled", None, None, None)
    assert (
        session.scalar(select(func.count()).select_from(ReferralFile).where(ReferralFile.referral_id == cancelled.id))
        == 0
    )
    withdrawn = session.get(Referral, ids["antidiskriminierung"])
    assert withdrawn is not None
    assert withdrawn.state == "withdrawn"
    untouched = session.get(Referral, ids["personalamt"])
    assert untouched is not None
    assert untouched.state == "sent"
    assert untouched.packet_ciphertext is not None
    assert untouched.sealed_key_partner is not None
    assert [a for a, _ in _audit_actions(session, cancelled.id)][-1] == "referral.cancelled"
    assert [a for a, _ in _audit_actions(session, withdrawn.id)][-1] == "referral.withdrawn"

    # Only the partner that had opened the packet is told, without content; nobody else gets mail.
    partner_mails = [a for m in smtp_server.mails for a in m.rcpt_tos if a.endswith("@partner.example")]
    assert partner_mails == [notify_address(town, "antidiskriminierung")]
    text = mail_text(mails_to(smtp_server, notify_address(town, "antidiskriminierung"))[0])
    assert "zurückgezogen" in text
    for absent in (
        partner_org(session, town, "antidiskriminierung").name,
        "rassistisch",
        "Beratung",
        case_row(session, reported.case_id).reference,
        withdrawn.id,
    ):
        assert absent not in text, absent
    # The partner's page now shows only that it is over.
    page = anti.get(f"/partner/weiterleitung/{withdrawn.id}").get_data(as_text=True)
    assert "Einwilligung zurückgezogen" in page
    assert "Eine rassistische Mail" not in page
    # The cancelled one is gone from the counselling centre's portal.
    counselling = logged_in_client(app, alliance.partners["opferberatung"])
    assert counselling.get(f"/partner/weiterleitung/{cancelled.id}").status_code == 404
    assert referral_reference(cancelled.id) not in counselling.get("/partner/").get_data(as_text=True)
    # The office sees the states.
    office_page = officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    assert "storniert (Einwilligung zurückgezogen, Daten gelöscht)" in office_page
    assert "zurückgezogen (Einwilligung widerrufen)" in office_page


def test_no_forwarding_cancels_every_referral_that_depends_on_consent(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    reported = submit_report_form(app, session, alliance.town)
    officer = officer_path(app, alliance, reported.case_id)
    refer(officer, reported.case_id, "opferberatung")
    refer(officer, reported.case_id, "personalamt")
    change_consents(mailbox_client(app, reported.receipt_code), counselling=True, employer=True, no_forwarding=True)
    session.expire_all()
    states = set(session.scalars(select(Referral.state).where(Referral.case_id == reported.case_id)))
    assert states == {"cancelled"}


# Key rotation ------------------------------------------------------------------------------------------


def test_new_organisation_key_makes_old_referrals_unreadable_until_the_office_resends(
    app: Flask, session: Session, config: Config, alliance: Alliance
) -> None:
    town = alliance.town
    reported = submit_report_form(app, session, town)
    officer = officer_path(app, alliance, reported.case_id)
    refer(officer, reported.case_id, "opferberatung")
    referral = referral_to(session, reported.case_id, alliance.partner_ids["opferberatung"])
    holder = alliance.partners["opferberatung"]
    partner_client = logged_in_client(app, holder)
    assert "Eine rassistische Mail" in partner_client.get(f"/partner/weiterleitung/{referral.id}").get_data(
        as_text=True
    )

    coordinator = logged_in_client(app, alliance.coordinator)
    issue = f"/verwaltung/partner/{referral.partner_id}/neuer-schluessel/{holder.id}"
    # While someone holds the key, it is passed on by a colleague, not replaced.
    response = post(coordinator, issue)
    assert "nicht möglich" in flashes(coordinator.get(response.headers["Location"]).get_data(as_text=True))
    assert partner_org(session, town, "opferberatung").key_generation == referral.key_generation

    # The holder's grant is lost (say, the person left); the coordinator issues a new key.
    session.execute(delete(PartnerKeyGrant).where(PartnerKeyGrant.account_id == holder.id))
    session.commit()
    page = coordinator.get("/verwaltung/partner").get_data(as_text=True)
    assert "Neuen Organisationsschlüssel ausstellen" in page
    response = post(coordinator, issue)
    assert "neuen Organisationsschlüssel" in flashes(
        coordinator.get(response.headers["Location"]).get_data(as_text=True)
    )
    session.expire_all()
    assert partner_org(session, town, "opferberatung").key_generation == referral.key_generation + 1

    log_in(app, partner_client, holder)
    page = partner_client.get(f"/partner/weiterleitung/{referral.id}").get_data(as_text=True)
    assert "Weiterleitung nicht lesbar" in page
    assert "Eine rassistische Mail" not in page

    case_page = officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    assert "Erneut senden" in case_page
    response = post(officer, f"/clearing/fall/{reported.case_id}/weiterleitung/{referral.id}/neu-senden")
    assert "erneut gesendet" in flashes(officer.get(response.headers["Location"]).get_data(as_text=True))
    assert "Erneut senden" not in officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    assert "Eine rassistische Mail" in partner_client.get(f"/partner/weiterleitung/{referral.id}").get_data(
        as_text=True
    )
    assert "referral.resent" in [a for a, _ in _audit_actions(session, referral.id)]

    # Re-sending is for referrals sealed to an old key only: no second mail, no second audit event.
    def notifications() -> int:
        session.expire_all()
        jobs = session.scalars(select(OutboxEntry).where(OutboxEntry.job == "notify_partner_referral")).all()
        return sum(1 for job in jobs if job.args.get("referral_id") == referral.id)

    sent_before = notifications()
    response = post(officer, f"/clearing/fall/{reported.case_id}/weiterleitung/{referral.id}/neu-senden")
    assert "kann nicht erneut gesendet werden" in flashes(
        officer.get(response.headers["Location"]).get_data(as_text=True)
    )
    assert notifications() == sent_before
    assert [a for a, _ in _audit_actions(session, referral.id)].count("referral.resent") == 1


def test_no_referral_or_approval_once_the_case_is_withdrawn(app: Flask, session: Session, alliance: Alliance) -> None:
    reported = submit_report_form(app, session, alliance.town, consent_police="y")
    officer = officer_path(app, alliance, reported.case_id)
    refer(officer, reported.case_id, "polizei-staatsschutz")  # four eyes: waits for the second officer
    waiting = referral_to(session, reported.case_id, alliance.partner_ids["polizei-staatsschutz"])
    assert post(officer, f"/clearing/fall/{reported.case_id}/status", {"target": "withdrawn"}).status_code == 303
    assert case_row(session, reported.case_id).status == "withdrawn"

    response = refer(officer, reported.case_id, "opferberatung")
    assert "nicht möglich" in flashes(officer.get(response.headers["Location"]).get_data(as_text=True))
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Referral).where(Referral.case_id == reported.case_id)) == 1
    response = post(
        logged_in_client(app, alliance.officer2),
        f"/clearing/fall/{reported.case_id}/weiterleitung/{waiting.id}/freigeben",
    )
    assert response.status_code == 303
    assert referral_to(session, reported.case_id, waiting.partner_id).state == "awaiting_approval"


def test_approval_needs_an_officer_who_can_read_the_case(
    app: Flask, session: Session, config: Config, alliance: Alliance
) -> None:
    """An officer still waiting for the office key cannot see what would be sent, so cannot approve it."""
    reported = submit_report_form(app, session, alliance.town, consent_police="y")
    officer = officer_path(app, alliance, reported.case_id)
    refer(officer, reported.case_id, "polizei-staatsschutz")
    waiting = referral_to(session, reported.case_id, alliance.partner_ids["polizei-staatsschutz"])
    newcomer = add_person(session, config, alliance.town, "ohne-schluessel", grant=False)
    client = logged_in_client(app, newcomer)
    assert "Als zweite Fachkraft freigeben" not in client.get(f"/clearing/fall/{reported.case_id}").get_data(
        as_text=True
    )
    assert post(client, f"/clearing/fall/{reported.case_id}/weiterleitung/{waiting.id}/freigeben").status_code == 303
    referral = referral_to(session, reported.case_id, waiting.partner_id)
    assert (referral.state, referral.approved_by) == ("awaiting_approval", None)
