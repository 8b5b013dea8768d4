"""Jobs of referrals: mails to partners and to the office."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from clearing.partners.models import PartnerOrganisation
from clearing.referrals.models import Referral
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
