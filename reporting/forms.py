"""The intake form and the mailbox forms: parsing and validation, with messages in the user's language."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    MultipleFileField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

import crypto
from core.sanitize import clean_text
from reporting import codes

LIMITS = {
    "short": 200,
    "place": 300,
    "description": 20000,
    "perpetrator_description": 3000,
    "urls": 5000,
    "message": 20000,
}
MAX_URLS = 20
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def _choices(mapping: dict[str, Any]) -> list[SelectChoice]:
    # SelectChoice, not (value, label) tuples: WTForms 3.3 deprecates tuples (a warning on every form).
    return [SelectChoice(value, label) for value, label in mapping.items()]


class MultiCheckboxField(SelectMultipleField):
    """Several choices as real checkboxes in a list."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# What the form parser puts where the browser sent bytes that are not UTF-8.
UNREADABLE = "\ufffd"


def _refuse_unreadable(field: Field) -> None:
    if any(isinstance(value, str) and UNREADABLE in value for value in field.raw_data or ()):
        raise ValidationError(
            _l("Dieser Text enthält Zeichen, die nicht gelesen werden konnten (�). Bitte geben Sie ihn erneut ein.")
        )


class CleanStringField(StringField):
    """A one-line text field normalised through the sanitising module."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        self.data = clean_text(self.data, multiline=False) if self.data else ""

    def pre_validate(self, form: Any) -> None:
        _refuse_unreadable(self)


class CleanTextAreaField(TextAreaField):
    """A multi-line text field normalised through the sanitising module."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        self.data = clean_text(self.data) if self.data else ""

    def pre_validate(self, form: Any) -> None:
        _refuse_unreadable(self)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _too_long(limit: int) -> Length:
    return Length(max=limit, message=_l("Bitte kürzen Sie diesen Text auf höchstens %(max)d Zeichen.", max=limit))


class ReportForm(FlaskForm):
    """What DOMAIN.md lists under "The report"."""

    # Declared in the order the page shows them: the error summary lists errors in this order.
    acute_danger = RadioField(
        _l("Sind Sie jetzt in akuter Gefahr?"),
        choices=_choices({"no": _l("Nein"), "yes": _l("Ja")}),
        default="no",
        validators=[InputRequired(_l("Bitte beantworten Sie die Frage nach akuter Gefahr."))],
    )
    reporter_role = RadioField(
        _l("Wer meldet?"),
        choices=_choices(codes.REPORTER_ROLES),
        validators=[InputRequired(_l("Bitte wählen Sie aus, wer meldet."))],
    )
    affected_role = RadioField(
        _l("Welche Rolle hat die betroffene Person?"),
        choices=_choices(codes.AFFECTED_ROLES),
        validators=[InputRequired(_l("Bitte wählen Sie die Rolle der betroffenen Person."))],
    )
    incident_types = MultiCheckboxField(
        _l("Was ist passiert?"),
        choices=_choices(codes.INCIDENT_TYPES),
        validators=[DataRequired(_l("Bitte wählen Sie mindestens eine Art des Vorfalls."))],
        description=_l("Mehrere Antworten sind möglich."),
    )
    description = CleanTextAreaField(
        _l("Beschreiben Sie, was passiert ist"),
        validators=[
            DataRequired(_l("Bitte beschreiben Sie kurz, was passiert ist.")),
            _too_long(LIMITS["description"]),
        ],
    )
    motives = MultiCheckboxField(
        _l("Was war aus Ihrer Sicht der Grund?"),
        choices=_choices(codes.MOTIVES),
        validators=[Optional()],
        description=_l("Mehrere Antworten sind möglich."),
    )
    incident_date = DateField(
        _l("Datum des Vorfalls"),
        validators=[Optional()],
        description=_l("Wenn Sie den Tag nicht genau wissen, geben Sie unten den Monat an."),
    )
    incident_month = StringField(
        _l("Ungefährer Monat (JJJJ-MM)"),
        # No Length(): the format check covers it, and one field gets one message.
        validators=[Optional()],
        filters=[_strip],
        description=_l("Zum Beispiel 2026-10."),
    )
    incident_time = StringField(_l("Uhrzeit (wenn bekannt)"), validators=[Optional()], filters=[_strip])
    ongoing = BooleanField(_l("Es dauert noch an"))
    known_since = DateField(_l("Seit wann wissen Sie davon?"), validators=[Optional()])
    channel = RadioField(
        _l("Wo ist es passiert?"),
        choices=_choices(codes.CHANNELS),
        validators=[InputRequired(_l("Bitte wählen Sie aus, wo es passiert ist."))],
    )
    place = CleanStringField(_l("Ort (frei, wenn Sie möchten)"), validators=[Optional(), _too_long(LIMITS["place"])])
    platform = CleanStringField(
        _l("Plattform (z. B. Name des Netzwerks)"), validators=[Optional(), _too_long(LIMITS["short"])]
    )
    urls = CleanTextAreaField(
        _l("Links zu Beiträgen oder Profilen"),
        validators=[Optional(), _too_long(LIMITS["urls"])],
        description=_l("Ein Link pro Zeile, beginnend mit https://"),
    )
    perpetrator = RadioField(
        _l("Wer hat es getan?"), choices=_choices(codes.PERPETRATORS), default="unknown", validators=[Optional()]
    )
    perpetrator_description = CleanTextAreaField(
        _l("Beschreibung der Täterin oder des Täters"),
        validators=[Optional(), _too_long(LIMITS["perpetrator_description"])],
        description=_l("Bitte nennen Sie andere Personen nur, wenn es nötig ist."),
    )
    files = MultipleFileField(
        _l("Beweise als Dateien (Bilder oder PDF)"),
        description=_l(
            "Bildschirmfotos des Beitrags, des Verlaufs und des Profils, Fotos oder PDF. Höchstens %(count)d Dateien, "
            "je %(size)d MB."
        ),
    )
    evidence_found = CleanStringField(
        _l("Wer hat es zuerst gesehen, und wann?"), validators=[Optional(), _too_long(LIMITS["short"])]
    )
    done_police = BooleanField(_l("Ich habe bereits Anzeige bei der Polizei erstattet"))
    police_reference = CleanStringField(
        _l("Aktenzeichen der Polizei (wenn vorhanden)"), validators=[Optional(), _too_long(LIMITS["short"])]
    )
    done_supervisor = BooleanField(_l("Ich habe meine Vorgesetzten informiert"))
    done_counselling = BooleanField(_l("Ich bin bereits in Beratung"))
    consent_counselling = BooleanField(codes.CONSENTS["counselling"])
    consent_police = BooleanField(codes.CONSENTS["police"])
    consent_employer = BooleanField(codes.CONSENTS["employer"])
    consent_prosecutor = BooleanField(codes.CONSENTS["prosecutor"])
    consent_statistics = BooleanField(codes.CONSENTS["statistics"])
    consent_no_forwarding = BooleanField(codes.CONSENTS["no_forwarding"])
    contact = RadioField(
        _l("Wie dürfen wir Sie erreichen?"), choices=_choices(codes.CONTACT_CHOICES), default="mailbox"
    )
    # No Optional() on the contact fields: it would stop before validate_contact_* checks that the
    # chosen way of contact has an address or a number.
    contact_email = CleanStringField(
        _l("E-Mail-Adresse (freiwillig)"),
        validators=[_too_long(254)],
    )
    contact_phone = CleanStringField(_l("Telefonnummer (freiwillig)"), validators=[_too_long(40)])
    # The honeypot: hidden from people and assistive technology; bots fill every field.
    website = StringField(_l("Bitte leer lassen"), validators=[Optional()])

    def validate_incident_month(self, field: Field) -> None:
        if not field.data:
            return
        match = MONTH_RE.match(field.data)
        if not match or not 1 <= int(match.group(2)) <= 12 or not 1990 <= int(match.group(1)) <= 2100:
            raise ValidationError(_l("Bitte geben Sie den Monat als JJJJ-MM an, zum Beispiel 2026-10."))

    def validate_incident_date(self, field: Field) -> None:
        if field.data and field.data > date.today():
            raise ValidationError(_l("Das Datum liegt in der Zukunft. Bitte prüfen Sie es."))

    def validate_incident_time(self, field: Field) -> None:
        if field.data and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", field.data):
            raise ValidationError(_l("Bitte geben Sie die Uhrzeit als HH:MM an, zum Beispiel 14:30."))

    def validate_urls(self, field: Field) -> None:
        urls = url_lines(field.data)
        if len(urls) > MAX_URLS:
            raise ValidationError(_l("Bitte geben Sie höchstens %(max)d Links an.", max=MAX_URLS))
        for url in urls:
            if not URL_RE.match(url) or len(url) > 2000:
                raise ValidationError(_l("Dies ist kein gültiger Link: Bitte beginnen Sie jeden Link mit https://"))

    def validate_contact_email(self, field: Field) -> None:
        if self.contact.data == "email" and not field.data:
            raise ValidationError(_l("Sie haben Kontakt per E-Mail gewählt: Bitte geben Sie eine Adresse an."))
        if field.data and not EMAIL_RE.match(field.data.strip()):
            raise ValidationError(_l("Bitte geben Sie eine gültige E-Mail-Adresse an."))

    def validate_contact_phone(self, field: Field) -> None:
        if self.contact.data == "phone" and not field.data:
            raise ValidationError(_l("Sie haben Kontakt per Telefon gewählt: Bitte geben Sie eine Nummer an."))


def url_lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


CODE_FORMAT_MESSAGE = _l(
    "Der Code hat 16 Ziffern, zum Beispiel 1234 5678 9012 3456. Leerzeichen und Bindestriche dazwischen sind egal; "
    "Buchstaben kommen nicht vor."
)


class ReceiptForm(FlaskForm):
    """Opening the mailbox with the receipt code."""

    code = StringField(
        _l("Ihr Zugangscode"),
        validators=[DataRequired(_l("Bitte geben Sie Ihren 16-stelligen Zugangscode ein."))],
        description=_l("16 Ziffern, Leerzeichen sind egal."),
    )

    def validate_code(self, field: Field) -> None:
        # The format is public (crypto.normalise_receipt_code): a malformed code is told so, not "not found".
        if len(field.data) > 100:
            raise ValidationError(CODE_FORMAT_MESSAGE)
        try:
            crypto.normalise_receipt_code(field.data)
        except crypto.InvalidReceiptCode:
            raise ValidationError(CODE_FORMAT_MESSAGE) from None


class ReplyForm(FlaskForm):
    """A message or additional information from the reporter, with optional files."""

    body = CleanTextAreaField(
        _l("Ihre Nachricht oder Ergänzung"),
        validators=[DataRequired(_l("Bitte schreiben Sie eine Nachricht.")), _too_long(LIMITS["message"])],
    )
    files = MultipleFileField(_l("Weitere Dateien (Bilder oder PDF)"))


class ConsentForm(FlaskForm):
    """Each consent on its own: granting or withdrawing is recorded with the time."""

    consent_counselling = BooleanField(codes.CONSENT_SHORT["counselling"])
    consent_police = BooleanField(codes.CONSENT_SHORT["police"])
    consent_employer = BooleanField(codes.CONSENT_SHORT["employer"])
    consent_prosecutor = BooleanField(codes.CONSENT_SHORT["prosecutor"])
    consent_statistics = BooleanField(codes.CONSENT_SHORT["statistics"])
    consent_no_forwarding = BooleanField(codes.CONSENT_SHORT["no_forwarding"])


class NotedForm(FlaskForm):
    """ "I have noted the code": a button that needs only the CSRF token."""


class ConfirmForm(FlaskForm):
    """A button that needs only the CSRF token (leave, ask for deletion)."""

    confirm = BooleanField(_l("Ja, ich möchte, dass meine Meldung gelöscht wird."))
