"""The case workflow: one state machine with guards; every transition is audited."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from clearing.audit import service as audit
from clearing.cases.errors import TransitionRefused
from clearing.partners import kinds as partner_kinds
from core.db import utcnow
from reporting import codes
from reporting.models import Case, CaseEvent

OPEN_STATES = ("received", "in_review", "assessed", "referred", "awaiting_feedback")

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("in_review", "withdrawn"),
    "in_review": ("assessed", "withdrawn"),
    "assessed": ("in_review", "referred", "closed", "withdrawn"),
    "referred": ("awaiting_feedback", "closed", "withdrawn"),
    "awaiting_feedback": ("closed", "withdrawn"),
    "closed": ("in_review",),
    "withdrawn": (),
}

# What the reporter's timeline says for each reached state (reporting.codes.EVENT_WORDS).
TIMELINE_KIND = {"in_review": "in_review", "assessed": "assessed", "closed": "closed", "withdrawn": "withdrawn"}

# The case page's timeline speaks to staff ("Nachricht der meldenden Person eingegangen"), where the
# reporter's mailbox says "Sie haben eine Nachricht gesendet" (reporting.codes.EVENT_WORDS).
STAFF_EVENT_WORDS = {
    "received": _l("Meldung eingegangen"),
    "in_review": _l("Prüfung begonnen"),
    "assessed": _l("Bewertung gespeichert, Fall bewertet"),
    "forwarded": _l("Weiterleitung gesendet an"),
    "closed": _l("Fall abgeschlossen"),
    "reopened": _l("Fall wieder aufgenommen"),
    "withdrawn": _l("Meldung von der meldenden Person zurückgezogen"),
    "reporter_message": _l("Nachricht der meldenden Person eingegangen"),
    "office_message": _l("Nachricht an die meldende Person gesendet"),
    "consent_granted": _l("Einwilligung der meldenden Person erteilt"),
    "consent_withdrawn": _l("Einwilligung von der meldenden Person zurückgezogen"),
    "deletion_requested": _l("Die meldende Person hat die Löschung beantragt"),
}


def timeline_text(kind: str, detail: str | None) -> str:
    """A timeline entry for staff in words, never an event code."""
    words = str(STAFF_EVENT_WORDS.get(kind, _l("Sonstiger Schritt")))
    if kind == "forwarded":
        return f"{words}: {partner_kinds.name_of(detail)}"
    if kind.startswith("consent_") and detail in codes.CONSENT_SHORT:
        return f"{words}: {codes.CONSENT_SHORT[detail]}"
    return str(words)


ACTION_LABELS = {
    "in_review": _l("Prüfung beginnen"),
    "assessed": _l("Als bewertet markieren"),
    "referred": _l("Als weitergeleitet markieren"),
    "awaiting_feedback": _l("Auf Rückmeldung warten"),
    "closed": _l("Fall abschließen"),
    "withdrawn": _l("Als zurückgezogen markieren"),
}


@dataclass(frozen=True)
class Guards:
    """Facts the guards need, gathered by the caller (keeps this module free of queries)."""

    has_assessment: bool
    pending_referrals: int = 0


def allowed(case: Case) -> tuple[str, ...]:
    return TRANSITIONS.get(case.status, ())


def check(case: Case, target: str, guards: Guards, reason: str) -> None:
    """Raise TransitionRefused with a reason a clearing officer understands."""
    if target not in TRANSITIONS:
        raise TransitionRefused(str(_l("Diesen Status gibt es nicht.")))
    if target not in allowed(case):
        raise TransitionRefused(str(_l("Von diesem Status aus ist dieser Schritt nicht möglich.")))
    if target in ("assessed", "referred") and not guards.has_assessment:
        raise TransitionRefused(str(_l("Bitte erfassen Sie zuerst die Bewertung.")))
    if target == "closed" and guards.pending_referrals and not reason:
        raise TransitionRefused(
            str(_l("Es gibt offene Weiterleitungen. Bitte geben Sie einen Grund für den Abschluss an."))
        )
    if case.status == "closed" and target == "in_review" and not reason:
        raise TransitionRefused(str(_l("Bitte geben Sie einen Grund für die Wiederaufnahme an.")))


def transition(
    session: Session,
    case: Case,
    target: str,
    *,
    actor_id: str | None,
    actor_role: str,
    guards: Guards,
    reason: str = "",
) -> None:
    """Move a case to `target` if allowed; records the reporter-visible step and an audit event.

    The reason text is not stored in clear: the caller puts it into an encrypted note.
    """
    check(case, target, guards, reason)
    previous = case.status
    case.status = target
    case.status_changed_at = utcnow()
    kind = "reopened" if previous == "closed" else TIMELINE_KIND.get(target)
    if kind:
        session.add(CaseEvent(case_id=case.id, kind=kind))
    audit.record(
        session,
        chain=case.municipality_id,
        action="case.transition",
        actor_id=actor_id,
        actor_role=actor_role,
        target_id=case.id,
        detail=f"{previous}->{target}",
    )
    session.flush()


# The way forward to a state, one step at a time (each step audited as its own transition).
FORWARD = ("received", "in_review", "assessed", "referred")


def advance(
    session: Session, case: Case, target: str, *, actor_id: str | None, actor_role: str, guards: Guards
) -> str | None:
    """Move the case forward to `target` through the states between; None if done, else why not.

    A case already at or past `target` stays where it is (None): a second assessment does not
    move a referred case back.
    """
    if case.status == "awaiting_feedback" or (
        case.status in FORWARD and FORWARD.index(case.status) >= FORWARD.index(target)
    ):
        return None
    if case.status == "closed":
        return str(_l("Der Fall ist abgeschlossen. Nehmen Sie ihn unter „Status und Zuständigkeit“ wieder auf."))
    if case.status not in FORWARD:
        return str(_l("Die Meldung wurde zurückgezogen; ihr Status ändert sich nicht mehr."))
    for step in FORWARD[FORWARD.index(case.status) + 1 : FORWARD.index(target) + 1]:
        try:
            transition(session, case, step, actor_id=actor_id, actor_role=actor_role, guards=guards)
        except TransitionRefused as refused:
            return refused.reason
    return None
