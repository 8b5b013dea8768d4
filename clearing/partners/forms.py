"""Forms of the alliance: the agreement editor and partner users."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length

from reporting.forms import CleanStringField, _too_long


class AgreementForm(FlaskForm):
    text = TextAreaField(
        _l("Vereinbarung im YAML-Format"),
        validators=[DataRequired(_l("Bitte geben Sie die Vereinbarung ein.")), Length(max=200_000)],
        description=_l(
            "Eine neue Version wird nur aktiv, wenn sie vollständig gültig ist; sonst bleibt die bisherige Version aktiv."
        ),
    )


class PartnerUserForm(FlaskForm):
    partner = SelectField(_l("Partnerorganisation"), validators=[InputRequired()], validate_choice=False)
    login = StringField(
        _l("Benutzername"),
        validators=[DataRequired(_l("Bitte geben Sie einen Benutzernamen an.")), Length(min=3, max=120)],
    )
    display_name = CleanStringField(
        _l("Name"), validators=[DataRequired(_l("Bitte geben Sie einen Namen an.")), _too_long(120)]
    )
