"""Jobs of the case work: reminder mails."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from clearing.cases.maintenance import check_audit_chain, purge_retention, scan_deadlines
from clearing.cases.maintenance import housekeeping as clean_up
from clearing.cases.models import Reminder
from core.app import state
from core.models import Municipality
from core.notify import mail_once, site_url, staff_addresses
from workers import job
from workers.jobs import JobContext
from workers.scheduled import empty_sqlite_log, run_scheduled

REMINDER_TEXT = {
    "acknowledgement": _l("die Eingangsbestätigung an eine meldende Person ist fällig"),
    "feedback": _l("die Rückmeldung an eine meldende Person (3 Monate) ist bald fällig"),
    "complaint": _l("eine Strafantragsfrist (§ 77b StGB) läuft bald ab"),
    "partner_response": _l("eine Partnerorganisation hat auf eine Weiterleitung noch nicht geantwortet"),
    "audit_broken": _l("die Prüfung des Protokolls hat eine Unstimmigkeit gefunden"),
}


@job("notify_reminder")
def notify_reminder(session: Session, context: JobContext, reminder_id: str) -> None:
    reminder = session.get(Reminder, reminder_id)
    if reminder is None:
        return
    roles = ("coordinator",) if reminder.kind == "audit_broken" else ("officer",)
    municipality = session.get(Municipality, reminder.municipality_id)
    recipients = staff_addresses(session, reminder.municipality_id, roles)
    if municipality and reminder.kind != "audit_broken":
        recipients.append(municipality.notify_email)
    mail_once(
        context,
        recipients,
        _l("Komm.A Meldestelle: Erinnerung"),
        _l(
            "Guten Tag,\n\n%(reminder)s.\nBitte melden Sie sich an: %(url)s/anmelden",
            reminder=REMINDER_TEXT.get(reminder.kind, _l("eine Frist ist fällig")),
            url=site_url(context.config),
        ),
    )


def deadline_scan() -> object:
    """Scheduled hourly: reminders and mails for due deadlines."""
    clock = state(current_app).clock
    return run_scheduled("deadline scan", lambda session: scan_deadlines(session, clock.now()))


def retention_purge() -> object:
    """Scheduled daily: crypto-shred closed cases past retention and cases whose reporter asked for deletion."""
    clock = state(current_app).clock
    purged = run_scheduled("retention purge", lambda session: purge_retention(session, clock.now()).cases)
    if purged:
        empty_sqlite_log()
    return purged


def housekeeping() -> object:
    """Scheduled hourly: expired sessions and old throttle windows."""
    clock = state(current_app).clock
    return run_scheduled("housekeeping", lambda session: clean_up(session, clock.now()))


def audit_check() -> object:
    """Scheduled daily: verify the audit chains; a break alerts the coordinators with a reminder."""
    clock = state(current_app).clock
    return run_scheduled(
        "audit check", lambda session: "broken" if check_audit_chain(session, clock.today()) else "intact"
    )
