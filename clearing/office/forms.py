"""Forms of running the office: new accounts, new municipalities."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    RadioField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length

from reporting.forms import CleanStringField, _choices, _too_long


class CreateAccountForm(FlaskForm):
    login = StringField(
        _l("Benutzername"),
        validators=[DataRequired(_l("Bitte geben Sie einen Benutzernamen an.")), Length(min=3, max=120)],
    )
    display_name = CleanStringField(
        _l("Name"), validators=[DataRequired(_l("Bitte geben Sie einen Namen an.")), _too_long(120)]
    )
    role = RadioField(
        _l("Rolle"),
        choices=_choices({"officer": _l("Clearing-Fachkraft"), "coordinator": _l("Koordination")}),
        default="officer",
        validators=[InputRequired()],
    )


class CreateMunicipalityForm(FlaskForm):
    slug = StringField(
        _l("Kurzname für Adressen (z. B. musterstadt)"),
        validators=[DataRequired(_l("Bitte geben Sie einen Kurznamen an.")), Length(max=63)],
    )
    name = CleanStringField(
        _l("Name der Kommune"), validators=[DataRequired(_l("Bitte geben Sie den Namen an.")), _too_long(200)]
    )
