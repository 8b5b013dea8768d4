"""Routing reasons, referral states, reminders and outcomes in words (German first); packet fields: packet.py."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from clearing.codes import OFFENCES, URGENCIES
from clearing.referrals.routing import Reason
from reporting.codes import CONSENT_SHORT, INCIDENT_TYPES, MOTIVES, PERPETRATORS

# Keyed by clearing.referrals.states: one label per state, per partner state and per outcome
# (tests/clearing/referrals/test_states.py holds them to it).
REFERRAL_STATE_LABELS = {
    "awaiting_approval": _l("wartet auf Freigabe (Vier-Augen-Prinzip)"),
    "sent": _l("gesendet"),
    "received": _l("empfangen"),
    "accepted": _l("angenommen"),
    "declined": _l("abgelehnt"),
    "in_progress": _l("in Bearbeitung"),
    "completed": _l("abgeschlossen"),
    "cancelled": _l("storniert (Einwilligung zurückgezogen, Daten gelöscht)"),
    "withdrawn": _l("zurückgezogen (Einwilligung widerrufen)"),
}

# The partner's next step, as an action (the state it leads to is in REFERRAL_STATE_LABELS).
PARTNER_STEP_LABELS = {
    "received": _l("Eingang bestätigen"),
    "accepted": _l("Annehmen"),
    "declined": _l("Ablehnen (bitte unten einen Grund angeben)"),
    "in_progress": _l("In Bearbeitung"),
    "completed": _l("Abschließen (bitte ein Ergebnis wählen)"),
}

REMINDER_LABELS = {
    "acknowledgement": _l("Eingangsbestätigung fällig (7 Tage)"),
    "feedback": _l("Rückmeldung an die meldende Person fällig (3 Monate)"),
    "complaint": _l("Strafantragsfrist läuft ab (§ 77b StGB)"),
    "partner_response": _l("Antwort der Partnerorganisation überfällig"),
    "audit_broken": _l("Protokollprüfung: Unstimmigkeit gefunden"),
}

OUTCOME_LABELS = {
    "counselling_started": _l("Beratung begonnen"),
    "complaint_filed": _l("Anzeige oder Strafantrag gestellt"),
    "measures_taken": _l("Maßnahmen ergriffen"),
    "no_action": _l("Keine weiteren Schritte"),
}


def _labels(codes: str, table: Mapping[str, object]) -> str:
    return ", ".join(str(table.get(c, c)) for c in codes.split(",") if c)


def describe(reason: Reason) -> str:
    if reason.code == "incident_type":
        return _("Nimmt Fälle dieser Art an: %(list)s", list=_labels(reason.value, INCIDENT_TYPES))
    if reason.code == "motive":
        return _("Zuständig für dieses Motiv: %(list)s", list=_labels(reason.value, MOTIVES))
    if reason.code == "offence":
        return _("Zuständig für diese Straftaten: %(list)s", list=_labels(reason.value, OFFENCES))
    if reason.code == "urgency":
        return _("Zuständig bei dieser Dringlichkeit: %(list)s", list=_labels(reason.value, URGENCIES))
    if reason.code == "perpetrator":
        return _("Zuständig für diese Täterseite: %(list)s", list=_labels(reason.value, PERPETRATORS))
    if reason.code == "employer_duty":
        return _("Laut Bewertung besteht eine Schutzpflicht des Arbeitgebers (Fürsorgepflicht, § 12 Abs. 3 AGG).")
    if reason.code == "takes_all":
        return _("Laut Vereinbarung für alle Fälle zuständig.")
    if reason.code == "acute_override":
        return _(
            "Akute Gefahr für Leib oder Leben: Die Vereinbarung erlaubt die Weitergabe ohne Einwilligung. Eine zweite Fachkraft muss zustimmen; die Weitergabe wird dokumentiert."
        )
    if reason.code == "no_forwarding":
        return _("Die meldende Person wünscht keine Weitergabe.")
    if reason.code == "consent_missing":
        return _("Es fehlt die Einwilligung: %(consent)s.", consent=CONSENT_SHORT.get(reason.value, reason.value))
    return reason.code
