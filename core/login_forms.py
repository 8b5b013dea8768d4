"""Forms of the staff login and the account page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


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


class PlainForm(FlaskForm):
    """A button with only the CSRF token."""
