"""Jobs of referrals: mails to partners and to the office."""

from __future__ import annotations

import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from clearing.partners.models import PartnerOrganisation
from clearing.referrals.models import Referral
from core.models import Municipality
from core.notify import mail_once, site_url, staff_addresses
from reporting.models import Case
from workers import job
from workers.jobs import JobContext

log = logging.getLogger(__name__)


def _partner_addresses(session: Session, partner: PartnerOrganisation) -> list[str]:
    return [partner.notify_email, *staff_addresses(session, partner.municipality_id, ("partner",), partner.id)]


@job("notify_partner_referral")
def notify_partner_referral(session: Session, context: JobContext, referral_id: str) -> None:
    referral = session.get(Referral, referral_id)
    partner = session.get(PartnerOrganisation, referral.partner_id) if referral else None
    if referral is None or partner is None or referral.state == "cancelled":
        return
    mail_once(
        context,
        _partner_addresses(session, partner),
        _l("Komm.A Meldestelle: Eine Weiterleitung wartet"),
        _l(
            "Guten Tag,\n\nim Partnerportal wartet eine Weiterleitung auf Sie.\nBitte melden Sie sich an: %(url)s/anmelden",
            url=site_url(context.config),
        ),
    )


@job("notify_partner_withdrawn")
def notify_partner_withdrawn(session: Session, context: JobContext, referral_id: str) -> None:
    referral = session.get(Referral, referral_id)
    partner = session.get(PartnerOrganisation, referral.partner_id) if referral else None
    if partner is None:
        return
    mail_once(
        context,
        _partner_addresses(session, partner),
        _l("Komm.A Meldestelle: Eine Weiterleitung wurde zurückgezogen"),
        _l(
            "Guten Tag,\n\neine Weiterleitung an Ihre Organisation wurde zurückgezogen, weil die meldende Person "
            "ihre Einwilligung widerrufen hat.\n"
            "Bitte verwenden Sie die Angaben nicht weiter. Details im Partnerportal: %(url)s/anmelden",
            url=site_url(context.config),
        ),
    )


@job("notify_office_feedback")
def notify_office_feedback(session: Session, context: JobContext, referral_id: str) -> None:
    referral = session.get(Referral, referral_id)
    case = session.get(Case, referral.case_id) if referral else None
    municipality = session.get(Municipality, case.municipality_id) if case else None
    if municipality is None:
        return
    mail_once(
        context,
        [municipality.notify_email, *staff_addresses(session, municipality.id, ("officer",))],
        _l("Komm.A Meldestelle: Neuigkeiten zu einer Weiterleitung"),
        _l(
            "Guten Tag,\n\neine Partnerorganisation hat eine Weiterleitung aktualisiert.\n"
            "Bitte melden Sie sich an: %(url)s/anmelden",
            url=site_url(context.config),
        ),
    )
