"""Staff login (password, then TOTP), logout, password change, "log out everywhere"."""

from __future__ import annotations

import segno
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core import accounts, staff
from core.accounts import LoginDelayed, LoginRefused
from core.app import current_config
from core.custody import session_key_for
from core.login_forms import CodeForm, LoginForm, PasswordChangeForm, PlainForm
from core.web_session import db_session

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    # Only paths on this site: never an absolute or protocol-relative URL. Browsers drop tabs and
    # newlines inside URLs ("/\t/evil.example" becomes "//evil.example") and read "\\" as "/", and a
    # newline cannot go into a header: any control character, space or backslash refuses the target.
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in target):
        return None
    return target


def _delayed(error: LoginDelayed) -> str:
    return _(
        "Zu viele Fehlversuche. Bitte versuchen Sie es nach %(time)s erneut.",
        time=format_datetime(error.until, "medium"),
    )


@bp.route("/anmelden", methods=["GET", "POST"])
def login() -> str | Response:
    """Step one: login name and password."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            account, private_key = accounts.check_password(
                db_session(), current_config(), form.login.data, form.password.data
            )
        except LoginRefused:
            form.password.errors = [_("Benutzername oder Passwort ist falsch.")]
        except LoginDelayed as delayed:
            form.password.errors = [_delayed(delayed)]
        else:
            staff.begin_second_step(account, private_key)
            return redirect(url_for("auth.second_step", next=_safe_next(request.args.get("next"))), code=303)
    # 200 even on failure: the failure count must be committed for the growing delay.
    return render_template("auth/login.html", form=form)


@bp.route("/anmelden/code", methods=["GET", "POST"])
def second_step() -> str | Response:
    """Step two: the TOTP code; on first login, enrolment with a QR code."""
    pending = staff.pending_login()
    if pending is None:
        flash(_("Bitte melden Sie sich erneut an."), "info")
        return redirect(url_for("auth.login"), code=303)
    account, private_key = pending
    form = CodeForm()
    if form.validate_on_submit():
        try:
            accounts.check_totp(current_config(), account, form.code.data)
        except LoginRefused:
            form.code.errors = [
                _("Der Code ist falsch oder wurde schon benutzt. Bitte warten Sie auf den nächsten Code.")
            ]
        except LoginDelayed as delayed:
            form.code.errors = [_delayed(delayed)]
        else:
            account.totp_confirmed = True
            staff.start(account, session_key_for(db_session(), account, private_key))
            target = _safe_next(request.args.get("next")) or url_for(staff.home_endpoint(account.role))
            return redirect(target, code=303)
    enrolment = None
    if not account.totp_confirmed:
        secret = accounts.totp_secret(current_config(), account)
        uri = accounts.totp_uri(current_config(), account)
        enrolment = {
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "qr": segno.make(uri, error="m").svg_data_uri(scale=5),
        }
    return render_template("auth/second_step.html", form=form, enrolment=enrolment)


@bp.post("/abmelden")
def logout() -> Response:
    """End the session: the server half is deleted."""
    PlainForm().validate()
    staff.end()
    flash(_("Sie sind abgemeldet."), "success")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/konto", methods=["GET", "POST"])
@staff.require()
def account() -> str | Response:
    """Password change and "log out everywhere"."""
    current = staff.current()
    assert current is not None
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            private_key = accounts.change_password(
                db_session(), current_config(), current.account, form.old_password.data, form.new_password.data
            )
        except LoginRefused:
            form.old_password.errors = [_("Das bisherige Passwort ist falsch.")]
        except accounts.AccountError:
            form.new_password.errors = [_("Das neue Passwort muss mindestens 12 Zeichen lang sein.")]
        else:
            staff.end_everywhere(current.account)
            staff.start(current.account, session_key_for(db_session(), current.account, private_key))
            flash(_("Ihr Passwort wurde geändert. Alle anderen Sitzungen wurden beendet."), "success")
            return redirect(url_for("auth.account"), code=303)
    return render_template("auth/account.html", form=form, everywhere=PlainForm(), staff=current)


@bp.post("/konto/ueberall-abmelden")
@staff.require()
def logout_everywhere() -> Response:
    """End every session of this account, on every device."""
    current = staff.current()
    assert current is not None
    if PlainForm().validate():
        staff.end_everywhere(current.account)
        flash(_("Sie wurden auf allen Geräten abgemeldet."), "success")
    return redirect(url_for("auth.login"), code=303)
