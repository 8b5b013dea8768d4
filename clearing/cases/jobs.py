"""Jobs of the case work: reminder mails."""

from __future__ import annotations

from sqlalchemy.orm import Session

from clearing.cases.maintenance import housekeeping as clean_up
from clearing.cases.maintenance import purge_retention, scan_deadlines
from clearing.cases.models import Reminder
from core.db import utcnow
from core.models import Municipality
from core.notify import mail_once, staff_addresses
from workers import job
from workers.scheduled import empty_sqlite_log, run_scheduled

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


def deadline_scan() -> object:
    """Scheduled hourly: reminders and mails for due deadlines."""
    return run_scheduled("deadline scan", lambda session: scan_deadlines(session, utcnow()))


def retention_purge() -> object:
    """Scheduled daily: crypto-shred closed cases past retention and cases whose reporter asked for deletion."""
    purged = run_scheduled("retention purge", lambda session: purge_retention(session, utcnow()).cases)
    if purged:
        empty_sqlite_log()
    return purged


def housekeeping() -> object:
    """Scheduled hourly: expired sessions and old throttle windows."""
    return run_scheduled("housekeeping", lambda session: clean_up(session, utcnow()))
