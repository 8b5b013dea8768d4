"""Jobs of the case work: reminder mails, the daily audit check and its anchor."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from clearing.audit.anchors import anchor_dir
from clearing.cases.maintenance import anchor_audit_chains, check_audit_chain, purge_retention, scan_deadlines
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


@job("audit_anchor_mail")
def audit_anchor_mail(
    session: Session, context: JobContext, municipality_id: str, digest: str, chains: int, events: int
) -> None:
    """The coordinators' copy of the day's anchor: its SHA-256 and counts, nothing else."""
    mail_once(
        context,
        staff_addresses(session, municipality_id, ("coordinator",)),
        _l("Komm.A Meldestelle: Protokoll geprüft"),
        _l(
            "Guten Tag,\n\ndas Protokoll wurde geprüft und ist unverändert (%(chains)s Ketten, %(events)s Einträge).\n"
            "Prüfsumme (SHA-256) des heutigen Protokollankers:\n%(digest)s\n\n"
            "Bitte bewahren Sie diese Nachricht auf: Mit ihr lässt sich später zeigen, dass das Protokoll "
            "seit heute nicht gekürzt wurde.",
            chains=chains,
            events=events,
            digest=digest,
        ),
    )


def audit_check() -> object:
    """Scheduled daily: verify the audit chains against the newest anchor; a break alerts the
    coordinators with a reminder, an intact trail gets today's anchor (a file and the coordinators' mail)."""
    komma = state(current_app)
    clock, directory = komma.clock, anchor_dir(komma.config)
    broken = run_scheduled("audit check", lambda session: check_audit_chain(session, clock.today(), directory))
    if broken is not None:
        return "broken"
    run_scheduled("audit anchor", lambda session: anchor_audit_chains(session, clock.now(), directory))
    return "intact"
