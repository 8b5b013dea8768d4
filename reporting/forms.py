"""The intake form and the mailbox forms: parsing and validation, with messages in the user's language."""

from __future__ import annotations

import re
from collections.abc import Mapping
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
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

import crypto
from core.forms import SelectChoice
from core.sanitize import clean_text
from reporting.content import (
    CONSENTS,
    FIELDS,
    Kind,
    ReportContent,
    ReportField,
    consents_given,
    content_from_answers,
    url_lines,
)

MESSAGE_LIMIT = 20000
MAX_URLS = 20
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def _choices(mapping: Mapping[str, Any]) -> list[SelectChoice]:
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


# No Optional() on the contact fields: it would stop before validate_contact_* checks that the
# chosen way of contact has an address or a number.
_CHECKED_TOGETHER = frozenset({"contact", "contact_email", "contact_phone"})


def _asked(field: ReportField) -> dict[str, Field]:
    """The form fields that ask one field of the report, by form name (unbound: WTForms binds them per form)."""
    label, hint = field.label, field.hint or ""
    skip_empty: list[Any] = [] if field.name in _CHECKED_TOGETHER else [Optional()]
    limit = [_too_long(field.max_length)] if field.max_length else []
    if field.kind is Kind.TEXT:
        text = CleanTextAreaField if field.multiline else CleanStringField
        needed: list[Any] = [DataRequired(field.required)] if field.required else skip_empty
        return {field.name: text(label, validators=[*needed, *limit], description=hint)}
    if field.kind is Kind.LINKS:
        return {field.name: CleanTextAreaField(label, validators=[*skip_empty, *limit], description=hint)}
    if field.kind in (Kind.CHOICE, Kind.YES_NO):
        chosen: list[Any] = [InputRequired(field.required)] if field.required else skip_empty
        choices = _choices(field.codes or {})
        return {
            field.name: RadioField(label, choices=choices, default=field.default, validators=chosen, description=hint)
        }
    if field.kind is Kind.MULTI_CHOICE:
        ticked: list[Any] = [DataRequired(field.required)] if field.required else [Optional()]
        choices = _choices(field.codes or {})
        return {field.name: MultiCheckboxField(label, choices=choices, validators=ticked, description=hint)}
    if field.kind is Kind.DATE:
        return {field.name: DateField(label, validators=[Optional()], description=hint)}
    if field.kind in (Kind.MONTH, Kind.TIME):
        # No Length(): the format check (validate_<name>) covers it, and one field gets one message.
        return {field.name: StringField(label, validators=[Optional()], filters=[_strip], description=hint)}
    if field.kind is Kind.TICK:
        return {field.name: BooleanField(label, description=hint)}
    if field.kind is Kind.GROUP:
        return {part.form_name: BooleanField(part.label) for part in field.parts}
    return {field.name: MultipleFileField(label, description=hint)}  # Kind.FILES


class _ConsentsForm(FlaskForm):
    """A form with one checkbox per consent of the schema (named `consent_<name>`)."""

    def consent_fields(self) -> list[Field]:
        """The consent checkboxes, in the schema's order."""
        return [self[consent.field_name] for consent in CONSENTS]

    def consents(self) -> dict[str, bool]:
        """Each consent as ticked."""
        return consents_given(self.data)


class ReportForm(_ConsentsForm):
    """The report as reporting.content describes it: one form field per question, in the order asked.

    The fields come from the schema (added below the class); the checks that look at a format or at
    more than one answer are the methods here.
    """

    # Named for the checker: the views handle these two by hand.
    files: MultipleFileField
    website: StringField

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
        if self["contact"].data == "email" and not field.data:
            raise ValidationError(_l("Sie haben Kontakt per E-Mail gewählt: Bitte geben Sie eine Adresse an."))
        if field.data and not EMAIL_RE.match(field.data.strip()):
            raise ValidationError(_l("Bitte geben Sie eine gültige E-Mail-Adresse an."))

    def validate_contact_phone(self, field: Field) -> None:
        if self["contact"].data == "phone" and not field.data:
            raise ValidationError(_l("Sie haben Kontakt per Telefon gewählt: Bitte geben Sie eine Nummer an."))

    def content(self) -> ReportContent:
        """The report to seal, from the validated form."""
        return content_from_answers(self.data)


def _add_fields(form: type[FlaskForm], fields: dict[str, Field]) -> None:
    # WTForms orders a form's fields by creation: these follow each other in the order given.
    for name, field in fields.items():
        setattr(form, name, field)


_add_fields(
    ReportForm,
    {
        **{name: unbound for field in FIELDS for name, unbound in _asked(field).items()},
        # The consents never carry an error, so where they stand among the fields changes no summary.
        **{consent.field_name: BooleanField(consent.label) for consent in CONSENTS},
        # The honeypot: hidden from people and assistive technology; bots fill every field.
        "website": StringField(_l("Bitte leer lassen"), validators=[Optional()]),
    },
)


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
        validators=[DataRequired(_l("Bitte schreiben Sie eine Nachricht.")), _too_long(MESSAGE_LIMIT)],
    )
    files = MultipleFileField(_l("Weitere Dateien (Bilder oder PDF)"))


class ConsentForm(_ConsentsForm):
    """Each consent on its own: granting or withdrawing is recorded with the time."""


_add_fields(ConsentForm, {consent.field_name: BooleanField(consent.short) for consent in CONSENTS})


class NotedForm(FlaskForm):
    """ "I have noted the code": a button that needs only the CSRF token."""


class ConfirmForm(FlaskForm):
    """A button that needs only the CSRF token (leave, ask for deletion)."""

    confirm = BooleanField(_l("Ja, ich möchte, dass meine Meldung gelöscht wird."))
