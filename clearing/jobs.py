"""Jobs of the clearing side: tell partners and the office that something waits (never what)."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy.orm import Session

from clearing.partner_models import PartnerOrganisation, Referral
from core.mail import send_mail
from core.models import Municipality
from reporting.models import Case
from workers import job

log = logging.getLogger(__name__)

FOOTER = "\nDiese Nachricht enthält aus Datenschutzgründen keine Inhalte.\n"


def _send(to: str, subject: str, body: str) -> None:
    config = current_app.extensions["komma"].config
    if not to or not config.smtp_url:
        log.info("no address or SMTP configured; the portal shows it")
        return
    send_mail(config, to, subject, body.format(url=config.base_url.rstrip("/")) + FOOTER)


@job("notify_partner_referral")
def notify_partner_referral(session: Session, referral_id: str) -> None:
    referral = session.get(Referral, referral_id)
    partner = session.get(PartnerOrganisation, referral.partner_id) if referral else None
    if referral is None or partner is None or referral.state == "cancelled":
        return
    _send(partner.notify_email, "Komm.A Meldestelle: Eine Weiterleitung wartet", "Guten Tag,\n\nim Partnerportal wartet eine Weiterleitung auf Sie.\nBitte melden Sie sich an: {url}/partner\n")


@job("notify_partner_withdrawn")
def notify_partner_withdrawn(session: Session, referral_id: str) -> None:
    referral = session.get(Referral, referral_id)
    partner = session.get(PartnerOrganisation, referral.partner_id) if referral else None
    if partner is None:
        return
    _send(
        partner.notify_email,
        "Komm.A Meldestelle: Eine Weiterleitung wurde zurückgezogen",
        "Guten Tag,\n\neine Weiterleitung an Ihre Organisation wurde zurückgezogen, weil die meldende Person ihre Einwilligung widerrufen hat.\n"
        "Bitte verwenden Sie die Angaben nicht weiter. Details im Partnerportal: {url}/partner\n",
    )


@job("notify_office_feedback")
def notify_office_feedback(session: Session, referral_id: str) -> None:
    referral = session.get(Referral, referral_id)
    case = session.get(Case, referral.case_id) if referral else None
    municipality = session.get(Municipality, case.municipality_id) if case else None
    if municipality is None:
        return
    _send(municipality.notify_email, "Komm.A Meldestelle: Rückmeldung eines Partners", "Guten Tag,\n\nein Partner hat eine Weiterleitung aktualisiert.\nBitte melden Sie sich an: {url}/clearing\n")
