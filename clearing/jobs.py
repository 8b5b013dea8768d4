"""Jobs of the clearing side: tell partners and the office that something waits (never what)."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy.orm import Session

from clearing.models import Reminder
from clearing.partner_models import PartnerOrganisation, Referral
from core import addresses
from core.accounts import EmailConfirmation
from core.models import Municipality
from core.notify import mail_once, staff_addresses
from reporting.models import Case
from workers import job

log = logging.getLogger(__name__)


def _partner_addresses(session: Session, partner: PartnerOrganisation) -> list[str]:
    return [partner.notify_email, *staff_addresses(session, partner.municipality_id, ("partner",), partner.id)]


@job("notify_partner_referral")
def notify_partner_referral(session: Session, referral_id: str) -> None:
    referral = session.get(Referral, referral_id)
    partner = session.get(PartnerOrganisation, referral.partner_id) if referral else None
    if referral is None or partner is None or referral.state == "cancelled":
        return
    mail_once(
        session,
        _partner_addresses(session, partner),
        "Komm.A Meldestelle: Eine Weiterleitung wartet",
        "Guten Tag,\n\nim Partnerportal wartet eine Weiterleitung auf Sie.\nBitte melden Sie sich an: {url}/anmelden",
    )


@job("notify_partner_withdrawn")
def notify_partner_withdrawn(session: Session, referral_id: str) -> None:
    referral = session.get(Referral, referral_id)
    partner = session.get(PartnerOrganisation, referral.partner_id) if referral else None
    if partner is None:
        return
    mail_once(
        session,
        _partner_addresses(session, partner),
        "Komm.A Meldestelle: Eine Weiterleitung wurde zurückgezogen",
        "Guten Tag,\n\neine Weiterleitung an Ihre Organisation wurde zurückgezogen, weil die meldende Person ihre Einwilligung widerrufen hat.\n"
        "Bitte verwenden Sie die Angaben nicht weiter. Details im Partnerportal: {url}/anmelden",
    )


@job("notify_office_feedback")
def notify_office_feedback(session: Session, referral_id: str) -> None:
    referral = session.get(Referral, referral_id)
    case = session.get(Case, referral.case_id) if referral else None
    municipality = session.get(Municipality, case.municipality_id) if case else None
    if municipality is None:
        return
    mail_once(
        session,
        [municipality.notify_email, *staff_addresses(session, municipality.id, ("officer",))],
        "Komm.A Meldestelle: Neuigkeiten zu einer Weiterleitung",
        "Guten Tag,\n\neine Partnerorganisation hat eine Weiterleitung aktualisiert.\nBitte melden Sie sich an: {url}/anmelden",
    )


REMINDER_TEXT = {
    "acknowledgement": "die Eingangsbestätigung an eine meldende Person ist fällig",
    "feedback": "die Rückmeldung an eine meldende Person (3 Monate) ist bald fällig",
    "complaint": "eine Strafantragsfrist (§ 77b StGB) läuft bald ab",
    "partner_response": "eine Partnerorganisation hat auf eine Weiterleitung noch nicht geantwortet",
    "audit_broken": "die Prüfung des Protokolls hat eine Unstimmigkeit gefunden",
}


@job("notify_reminder")
def notify_reminder(session: Session, reminder_id: str) -> None:
    reminder = session.get(Reminder, reminder_id)
    if reminder is None:
        return
    roles = ("coordinator",) if reminder.kind == "audit_broken" else ("officer",)
    municipality = session.get(Municipality, reminder.municipality_id)
    recipients = staff_addresses(session, reminder.municipality_id, roles)
    if municipality and reminder.kind != "audit_broken":
        recipients.append(municipality.notify_email)
    mail_once(
        session,
        recipients,
        "Komm.A Meldestelle: Erinnerung",
        f"Guten Tag,\n\n{REMINDER_TEXT.get(reminder.kind, 'eine Frist ist fällig')}.\nBitte melden Sie sich an: {{url}}/anmelden",
    )


@job(addresses.SEND_JOB)
def send_address_confirmation(session: Session, confirmation_id: str) -> None:
    """The link that makes a new notification address count; sent once, then only its hash is kept."""
    row = session.get(EmailConfirmation, confirmation_id)
    if row is None:
        return  # replaced by a newer request or removed: that link must not go out
    token = addresses.token_to_send(current_app.extensions["komma"].config, row)
    if token is None:
        return
    whose = "der Clearingstelle" if row.municipality_id else "Ihres Kontos"
    mail_once(
        session,
        [row.address],
        "Komm.A Meldestelle: Bitte bestätigen Sie Ihre E-Mail-Adresse",
        f"Guten Tag,\n\ndiese Adresse soll die Benachrichtigungsadresse {whose} in der Meldestelle werden.\n"
        "Bitte bestätigen Sie das innerhalb von 24 Stunden über diesen Link:\n"
        f"{{url}}/e-mail-bestaetigen/{token}\n\n"
        "Wenn Sie das nicht veranlasst haben, ignorieren Sie diese Nachricht; es ändert sich dann nichts.",
    )
    addresses.forget_token(row)
