"""Staff login (password, then TOTP), logout, password change, "log out everywhere", one's own e-mail address."""

from __future__ import annotations

import segno
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core import account_events, accounts, addresses, staff
from core.accounts import LoginDelayed, LoginRefused
from core.app import SESSION_COOKIE, current_state
from core.custody import session_key_for
from core.login_forms import CodeForm, EmailForm, LoginForm, PasswordChangeForm, PlainForm
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
                db_session(), current_state().config, form.login.data or "", form.password.data or ""
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
            accounts.check_totp(account, private_key, form.code.data or "")
        except LoginRefused:
            form.code.errors = [
                _("Der Code ist falsch oder wurde schon benutzt. Bitte warten Sie auf den nächsten Code.")
            ]
        except LoginDelayed as delayed:
            form.code.errors = [_delayed(delayed)]
        else:
            if not account.totp_confirmed:
                account_events.emit(db_session(), account, account_events.TOTP_ENROLLED)
            account.totp_confirmed = True
            account_events.emit(db_session(), account, account_events.LOGIN)
            staff.start(account, session_key_for(db_session(), account, private_key))
            target = _safe_next(request.args.get("next")) or url_for(staff.home_endpoint(account.role))
            return redirect(target, code=303)
    enrolment = None
    if not account.totp_confirmed:
        secret = accounts.totp_secret(account, private_key)
        uri = accounts.totp_uri(account, secret)
        enrolment = {
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "qr": segno.make(uri, error="m").svg_data_uri(scale=5),
        }
    return render_template("auth/second_step.html", form=form, enrolment=enrolment)


@bp.post("/abmelden")
def logout() -> Response:
    """End the session: the server half is deleted."""
    PlainForm().validate()
    current = staff.current()
    if current is not None:
        account_events.emit(db_session(), current.account, account_events.LOGOUT)
    staff.end()
    flash(_("Sie sind abgemeldet."), "success")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/konto", methods=["GET", "POST"])
@staff.require()
def account() -> str | Response:
    """Password change and "log out everywhere"."""
    current = staff.actor()
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            private_key = accounts.change_password(
                db_session(),
                current_state().config,
                current.account,
                form.old_password.data or "",
                form.new_password.data or "",
            )
        except LoginRefused:
            form.old_password.errors = [_("Das bisherige Passwort ist falsch.")]
        except accounts.AccountError:
            form.new_password.errors = [_("Das neue Passwort muss mindestens 12 Zeichen lang sein.")]
        else:
            account_events.emit(db_session(), current.account, account_events.PASSWORD_CHANGED)
            staff.end_everywhere(current.account)
            staff.start(current.account, session_key_for(db_session(), current.account, private_key))
            flash(_("Ihr Passwort wurde geändert. Alle anderen Sitzungen wurden beendet."), "success")
            return redirect(url_for("auth.account"), code=303)
    return _account_page(current, form=form)


def _account_page(
    current: staff.Staff, *, form: PasswordChangeForm | None = None, email: EmailForm | None = None
) -> str:
    return render_template(
        "auth/account.html",
        form=form or PasswordChangeForm(formdata=None),
        email_form=email or EmailForm(formdata=None),
        pending=addresses.pending(db_session(), account=current.account),
        everywhere=PlainForm(),
        staff=current,
    )


def address_refused_message(refused: addresses.AddressRefused) -> str:
    """The German sentence for a refused address (the office page uses it too)."""
    if refused.reason == "too_many":
        return _(
            "Sie haben in der letzten Stunde zu viele Bestätigungslinks angefordert. Bitte versuchen Sie es später erneut."
        )
    if refused.reason == "no_mail":
        return _("In dieser Installation ist kein Mailversand eingerichtet. Bitte wenden Sie sich an den Betrieb.")
    return _("Bitte geben Sie eine gültige E-Mail-Adresse ein, zum Beispiel vorname.nachname@kommune.de.")


@bp.post("/konto/e-mail")
@staff.require()
def request_email() -> str | Response:
    """A new address for one's own notifications: a confirmation link goes there first."""
    current = staff.actor()
    form = EmailForm()
    if form.validate_on_submit():
        try:
            addresses.request_confirmation(
                db_session(),
                current_state().config,
                form.address.data or "",
                actor=current.account,
                account=current.account,
            )
        except addresses.AddressRefused as refused:
            form.address.errors = [address_refused_message(refused)]
        else:
            flash(
                _(
                    "Wir haben einen Bestätigungslink an %(address)s gesendet. Die Adresse gilt, sobald Sie den Link öffnen (innerhalb von 24 Stunden).",
                    address=form.address.data,
                ),
                "success",
            )
            return redirect(url_for("auth.account") + "#e-mail", code=303)
    return _account_page(current, email=form)


@bp.post("/konto/e-mail/entfernen")
@staff.require()
def remove_email() -> Response:
    """No more notification mails to this account (a pending address is dropped too)."""
    current = staff.actor()
    if PlainForm().validate():
        addresses.remove(db_session(), actor=current.account, account=current.account)
        flash(_("Ihre E-Mail-Adresse wurde entfernt. Sie erhalten keine Benachrichtigungen mehr."), "success")
    return redirect(url_for("auth.account") + "#e-mail", code=303)


@bp.route("/e-mail-bestaetigen/<token>", methods=["GET", "POST"])
def confirm_email(token: str) -> tuple[str, int]:
    """The link from the mail: a button confirms (a mail scanner's GET must not use the link up)."""
    try:
        row = (
            addresses.confirm(db_session(), token)
            if request.method == "POST"
            else addresses.check_link(db_session(), token)
        )
    except addresses.LinkInvalid as invalid:
        return render_template("auth/confirm_email.html", problem=invalid.reason, token=token), 410
    confirmed = request.method == "POST"
    # A link followed from a mail program arrives without the SameSite=Strict session cookie; a
    # form (with its CSRF token) would start a new session and so log the reader out. One link
    # within the site first brings the cookie along; "weiter" stops the hop where there is none.
    hop = not confirmed and not request.cookies.get(SESSION_COOKIE)
    return render_template(
        "auth/confirm_email.html",
        hop=hop and not request.args.get("weiter"),
        problem=None,
        token=token,
        address=row.address,
        office=bool(row.municipality_id),
        confirmed=confirmed,
    ), 200


@bp.post("/konto/ueberall-abmelden")
@staff.require()
def logout_everywhere() -> Response:
    """End every session of this account, on every device."""
    current = staff.actor()
    if PlainForm().validate():
        account_events.emit(db_session(), current.account, account_events.LOGOUT_EVERYWHERE)
        staff.end_everywhere(current.account)
        flash(_("Sie wurden auf allen Geräten abgemeldet."), "success")
    return redirect(url_for("auth.login"), code=303)
