"""Forms of the officer's inbox and case page."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
)
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from clearing import codes as clearing_codes
from clearing.cases.flood_sorting import MAX_SELECTION
from clearing.cases.inbox import normalise_reference
from core.forms import SelectChoice
from reporting import codes
from reporting.forms import CleanStringField, CleanTextAreaField, MultiCheckboxField, _choices, _too_long


def _with_any(mapping: dict[str, Any], any_label: object) -> list[SelectChoice]:
    # SelectChoice, not (value, label) tuples: WTForms 3.3 deprecates tuples (a warning on every form).
    return _choices({"": any_label, **mapping})


STATUS_LABELS = {
    "received": _l("Eingegangen"),
    "in_review": _l("In Prüfung"),
    "assessed": _l("Bewertet"),
    "referred": _l("Weitergeleitet"),
    "awaiting_feedback": _l("Rückmeldung ausstehend"),
    "closed": _l("Abgeschlossen"),
    "withdrawn": _l("Zurückgezogen"),
}


# The inbox's "next deadline" column: which deadline it is (clearing.deadlines.Deadline.name).
DEADLINE_LABELS = {
    "acknowledgement": _l("Eingangsbestätigung"),
    "feedback": _l("Rückmeldung an die meldende Person"),
    "complaint": _l("Strafantrag (§ 77b StGB)"),
    "partner": _l("Antwort des Partners"),
}


SORT_LABELS = {
    "newest": _l("Neueste zuerst"),
    "oldest": _l("Älteste zuerst"),
    "urgency": _l("Dringlichkeit"),
    "status": _l("Status"),
}


class InboxFilterForm(FlaskForm):
    """Filters in the query string: bookmarkable, no state on the server."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=_with_any(STATUS_LABELS, _l("alle")), validators=[Optional()])
    urgency = SelectField(
        _l("Dringlichkeit"), choices=_with_any(clearing_codes.URGENCIES, _l("alle")), validators=[Optional()]
    )
    incident_type = SelectField(
        _l("Art des Vorfalls"), choices=_with_any(codes.INCIDENT_TYPES, _l("alle")), validators=[Optional()]
    )
    motive = SelectField(_l("Motiv"), choices=_with_any(codes.MOTIVES, _l("alle")), validators=[Optional()])
    received_from = DateField(_l("Eingegangen ab"), validators=[Optional()])
    received_to = DateField(_l("Eingegangen bis"), validators=[Optional()])
    assigned = SelectField(_l("Zuständig"), validators=[Optional()], validate_choice=False)
    overdue = BooleanField(_l("Nur überfällige"))
    flood = BooleanField(_l("Nur als Flut markierte"))
    reference = CleanStringField(
        _l("Fallnummer"),
        description=_l("Die ganze Fallnummer (K- und acht Zeichen) oder ein Teil davon"),
        validators=[Optional(), _too_long(20)],
    )
    sort = SelectField(_l("Sortierung"), choices=_choices(SORT_LABELS), default="newest", validators=[Optional()])
    page = IntegerField(_l("Seite"), default=1, validators=[Optional()])

    def validate_reference(self, field: CleanStringField) -> None:
        """A search needs letters or digits of a case reference."""
        if field.data and not normalise_reference(field.data):
            raise ValidationError(
                _l("Bitte geben Sie eine Fallnummer (K- und acht Zeichen) oder einen Teil davon ein.")
            )


FLOOD_ACTIONS = {
    "clear": _l("Markierung aufheben"),
    "discard": _l("Als Flut-Meldungen löschen"),
}


class FloodSortingForm(FlaskForm):
    """The inbox's bulk form for reports marked as flood: the rows' checkboxes and one of two buttons."""

    # The checkboxes sit in the inbox table's rows, one per case shown; their values are case ids.
    cases = SelectMultipleField(
        _l("Ausgewählte Meldungen"),
        validate_choice=False,
        validators=[DataRequired(_l("Bitte wählen Sie mindestens eine Meldung aus. Es wurde nichts geändert."))],
    )
    action = SelectField(
        _l("Mit den ausgewählten Meldungen"),
        choices=_choices(FLOOD_ACTIONS),
        validators=[InputRequired(_l("Bitte wählen Sie, was mit den ausgewählten Meldungen geschehen soll."))],
    )
    reviewed = BooleanField(
        _l("Ich habe die ausgewählten Meldungen gesichtet"),
        description=_l("Zum Löschen nötig. Gelöschte Meldungen lassen sich nicht wiederherstellen."),
    )

    def validate_cases(self, field: SelectMultipleField) -> None:
        if len(field.data or []) > MAX_SELECTION:
            raise ValidationError(_l("Bitte wählen Sie höchstens %(max)d Meldungen auf einmal aus.", max=MAX_SELECTION))

    def validate_reviewed(self, field: BooleanField) -> None:
        """Deleting is for good: only after the officer says they looked at each one."""
        if self.action.data == "discard" and not field.data:
            raise ValidationError(
                _l(
                    "Bitte bestätigen Sie, dass Sie die ausgewählten Meldungen gesichtet haben. Es wurde nichts gelöscht."
                )
            )


class MessageForm(FlaskForm):
    body = CleanTextAreaField(
        _l("Nachricht an die meldende Person"),
        validators=[DataRequired(_l("Bitte schreiben Sie eine Nachricht.")), _too_long(20000)],
    )


class NoteForm(FlaskForm):
    note = CleanTextAreaField(
        _l("Interne Notiz"), validators=[DataRequired(_l("Bitte schreiben Sie eine Notiz.")), _too_long(20000)]
    )


class AssignForm(FlaskForm):
    officer = SelectField(_l("Zuständige Person"), validators=[Optional()], validate_choice=False)


class TransitionForm(FlaskForm):
    target = SelectField(_l("Nächster Schritt"), validators=[InputRequired()], validate_choice=False)
    reason = CleanStringField(
        _l("Begründung (bei Abschluss mit offenen Weiterleitungen und bei Wiederaufnahme nötig)"),
        validators=[Optional(), _too_long(2000)],
    )


class AssessmentForm(FlaskForm):
    """What DOMAIN.md lists under "Assessment"."""

    urgency = RadioField(
        _l("Dringlichkeit"),
        choices=_choices(clearing_codes.URGENCIES),
        validators=[InputRequired(_l("Bitte wählen Sie die Dringlichkeit."))],
    )
    escalation_level = RadioField(
        _l("Eskalationsstufe (Aachener Modell)"),
        choices=_choices(clearing_codes.ESCALATION_LEVELS),
        validators=[InputRequired(_l("Bitte wählen Sie die Eskalationsstufe."))],
    )
    incident_types = MultiCheckboxField(
        _l("Bestätigte Art des Vorfalls"),
        choices=_choices(codes.INCIDENT_TYPES),
        validators=[DataRequired(_l("Bitte bestätigen Sie mindestens eine Art des Vorfalls."))],
    )
    motives = MultiCheckboxField(_l("Bestätigte Motive"), choices=_choices(codes.MOTIVES), validators=[Optional()])
    phenomenon_area = RadioField(
        _l("Phänomenbereich (polizeiliche Erfassung)"),
        choices=_choices(clearing_codes.PHENOMENON_AREAS),
        validators=[Optional()],
    )
    offences = MultiCheckboxField(
        _l("Mögliche Straftaten"), choices=_choices(clearing_codes.OFFENCES), validators=[Optional()]
    )
    known_on = DateField(
        _l("Kenntnis von Tat und Täter am"),
        validators=[Optional()],
        description=_l(
            "Beginn der Antragsfrist von drei Monaten (§ 77b StGB) bei Antragsdelikten (§§ 185–189 StGB). Nach § 194 Abs. 3 StGB kann auch die oder der Dienstvorgesetzte den Antrag stellen."
        ),
    )
    employer_duty = BooleanField(_l("Der Arbeitgeber muss einbezogen werden (Fürsorgepflicht, § 12 Abs. 3 AGG)"))
    case_conference = BooleanField(_l("Fallkonferenz nötig"))
    notes = CleanTextAreaField(_l("Begründung und Notizen zur Bewertung"), validators=[Optional(), _too_long(20000)])
