"""Jobs of the reporting side: tell the clearing office, or the reporter, that something is waiting (never what)."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from core.app import state
from core.models import Municipality
from core.notify import MailText, mail_once, site_url, staff_addresses
from reporting.case_crypto import open_reporter_address
from reporting.models import Case
from reporting.service import reseal_reporter_addresses
from workers import job
from workers.jobs import JobContext
from workers.scheduled import run_scheduled


def _tell_office(session: Session, context: JobContext, case_id: str, subject: MailText, body: MailText) -> None:
    """Mail the office and its officers that something is waiting (never what)."""
    case = session.get(Case, case_id)
    municipality = session.get(Municipality, case.municipality_id) if case else None
    if case is None or municipality is None:
        return  # deleted meanwhile: nothing to say
    addresses = [municipality.notify_email, *staff_addresses(session, municipality.id, ("officer",))]
    mail_once(context, addresses, subject, body)


@job("notify_new_report")
def notify_new_report(session: Session, context: JobContext, case_id: str) -> None:
    _tell_office(
        session,
        context,
        case_id,
        _l("Komm.A Meldestelle: Neue Meldung eingegangen"),
        _l(
            "Guten Tag,\n\nin der Meldestelle wartet eine neue Meldung auf Sie.\n"
            "Bitte melden Sie sich an: %(url)s/anmelden",
            url=site_url(context.config),
        ),
    )


@job("notify_flood")
def notify_flood(session: Session, context: JobContext, case_id: str) -> None:
    """During a flood (reporting.flood): once an hour for all the reports marked in it."""
    _tell_office(
        session,
        context,
        case_id,
        _l("Komm.A Meldestelle: Ungewöhnlich viele Meldungen"),
        _l(
            "Guten Tag,\n\nin der Meldestelle gehen gerade ungewöhnlich viele Meldungen ein. "
            "Sie sind in der Eingangsliste als „Flut“ markiert und können dort gesammelt gesichtet "
            "werden; Meldungen mit akuter Gefahr stehen wie immer oben.\n"
            "Bitte melden Sie sich an: %(url)s/anmelden",
            url=site_url(context.config),
        ),
    )


@job("notify_case_activity")
def notify_case_activity(session: Session, context: JobContext, case_id: str) -> None:
    _tell_office(
        session,
        context,
        case_id,
        _l("Komm.A Meldestelle: Neuigkeiten in einem Fall"),
        _l(
            "Guten Tag,\n\nin einem Ihrer Fälle gibt es Neuigkeiten von der meldenden Person.\n"
            "Bitte melden Sie sich an: %(url)s/anmelden",
            url=site_url(context.config),
        ),
    )


@job("notify_reporter")
def notify_reporter(session: Session, context: JobContext, case_id: str) -> None:
    """Only if the reporter left an address for this: "a message is waiting", nothing else."""
    case = session.get(Case, case_id)
    if case is None or not case.reporter_notify_ciphertext:
        return
    # An address not yet re-sealed since the upgrade still opens with the old derived key (legacy_secret_key).
    address = open_reporter_address(
        context.config.notify_keys,
        case.id,
        case.reporter_notify_ciphertext,
        legacy_secret_key=context.config.secret_key,
    )
    mail_once(
        context,
        [address],
        _l("Komm.A Meldestelle: Eine Nachricht wartet"),
        _l(
            "Guten Tag,\n\nin Ihrem Postfach der Meldestelle wartet eine Nachricht.\n"
            "Öffnen Sie es mit Ihrem Zugangscode: %(url)s/postfach\n\n"
            "You have a new message in your mailbox. Open it with your access code: %(url)s/postfach",
            url=site_url(context.config),
        ),
    )


def reseal_notify_addresses() -> object:
    """Scheduled hourly: addresses under a previous notification key (or the pre-issue-13 key) are re-sealed."""
    config = state(current_app).config
    return run_scheduled("notification addresses", lambda session: reseal_reporter_addresses(session, config).resealed)
