"""Jobs of the reporting side: tell the clearing office that something is waiting (never what)."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy.orm import Session

from core.mail import send_mail
from core.models import Municipality
from reporting.models import Case
from workers import job

log = logging.getLogger(__name__)


def _notify_office(session: Session, case_id: str, subject: str, body: str) -> None:
    case = session.get(Case, case_id)
    if case is None:
        return  # deleted meanwhile: nothing to say
    municipality = session.get(Municipality, case.municipality_id)
    config = current_app.extensions["komma"].config
    if municipality is None or not municipality.notify_email or not config.smtp_url:
        log.info("no office address or SMTP configured; the inbox shows the case")
        return
    send_mail(config, municipality.notify_email, subject, body.format(url=config.base_url.rstrip("/")))


@job("notify_new_report")
def notify_new_report(session: Session, case_id: str) -> None:
    _notify_office(
        session,
        case_id,
        "Komm.A Meldestelle: Neue Meldung eingegangen",
        "Guten Tag,\n\nin der Meldestelle wartet eine neue Meldung auf Sie.\n"
        "Bitte melden Sie sich an: {url}/clearing\n\n"
        "Diese Nachricht enthält aus Datenschutzgründen keine Inhalte.\n",
    )


@job("notify_case_activity")
def notify_case_activity(session: Session, case_id: str) -> None:
    _notify_office(
        session,
        case_id,
        "Komm.A Meldestelle: Neue Aktivität in einem Fall",
        "Guten Tag,\n\nin einem Ihrer Fälle gibt es Neuigkeiten von der meldenden Person.\n"
        "Bitte melden Sie sich an: {url}/clearing\n\n"
        "Diese Nachricht enthält aus Datenschutzgründen keine Inhalte.\n",
    )
