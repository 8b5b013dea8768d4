"""Forms of the staff login and the account page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from core import addresses


class LoginForm(FlaskForm):
    login = StringField(
        _l("Benutzername"), validators=[DataRequired(_l("Bitte geben Sie Ihren Benutzernamen ein.")), Length(max=120)]
    )
    password = PasswordField(
        _l("Passwort"), validators=[DataRequired(_l("Bitte geben Sie Ihr Passwort ein.")), Length(max=1000)]
    )


class CodeForm(FlaskForm):
    code = StringField(
        _l("Sicherheitscode aus Ihrer Authenticator-App"),
        validators=[DataRequired(_l("Bitte geben Sie den sechsstelligen Code ein.")), Length(max=10)],
        description=_l("Sechs Ziffern; der Code wechselt alle 30 Sekunden."),
    )


class PasswordChangeForm(FlaskForm):
    old_password = PasswordField(
        _l("Bisheriges Passwort"), validators=[DataRequired(_l("Bitte geben Sie Ihr bisheriges Passwort ein."))]
    )
    new_password = PasswordField(
        _l("Neues Passwort"),
        validators=[
            DataRequired(_l("Bitte geben Sie ein neues Passwort ein.")),
            Length(min=12, max=1000, message=_l("Das neue Passwort muss mindestens 12 Zeichen lang sein.")),
        ],
        description=_l("Mindestens 12 Zeichen. Ein Satz aus mehreren Wörtern ist gut zu merken und sicher."),
    )
    repeat = PasswordField(
        _l("Neues Passwort wiederholen"),
        validators=[EqualTo("new_password", _l("Die beiden neuen Passwörter stimmen nicht überein."))],
    )


def _one_address(_form: FlaskForm, field: StringField) -> None:
    try:
        field.data = addresses.normalise(field.data or "")
    except addresses.AddressRefused:
        raise ValidationError(
            _l("Bitte geben Sie eine gültige E-Mail-Adresse ein, zum Beispiel vorname.nachname@kommune.de.")
        ) from None


ADDRESS_VALIDATORS = [DataRequired(_l("Bitte geben Sie eine E-Mail-Adresse ein.")), _one_address]


class EmailForm(FlaskForm):
    """A new notification address; it counts only once the link mailed to it is opened."""

    address = StringField(
        _l("Neue E-Mail-Adresse"),
        validators=ADDRESS_VALIDATORS,
        description=_l("Wir senden einen Bestätigungslink an diese Adresse. Sie gilt erst, wenn Sie den Link öffnen."),
    )


class PlainForm(FlaskForm):
    """A button with only the CSRF token."""


class InvitationForm(FlaskForm):
    """The invited holder's own password (the TOTP enrolment follows as the login's second step)."""

    password = PasswordField(
        _l("Ihr Passwort"),
        validators=[
            DataRequired(_l("Bitte wählen Sie ein Passwort.")),
            Length(min=12, max=1000, message=_l("Das Passwort muss mindestens 12 Zeichen lang sein.")),
        ],
        description=_l("Mindestens 12 Zeichen. Ein Satz aus mehreren Wörtern ist gut zu merken und sicher."),
    )
    repeat = PasswordField(
        _l("Passwort wiederholen"),
        validators=[EqualTo("password", _l("Die beiden Passwörter stimmen nicht überein."))],
    )
