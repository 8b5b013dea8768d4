"""The invitation link: the holder of a new account sets their own password, then enrols TOTP at the login's second step."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core import accounts, invitations, staff
from core.app import current_state
from core.login import bp
from core.login_forms import InvitationForm
from core.web_session import db_session


def _invalid() -> tuple[str, int]:
    # Unknown, used and expired links get the same page: the link tells nothing about the account.
    return render_template("auth/invitation.html", invalid=True, form=None, account=None), 410


@bp.route("/einladung/<token>", methods=["GET", "POST"])
def invitation(token: str) -> tuple[str, int] | Response:
    """GET shows the form and changes nothing (mail scanners open links); POST sets the password."""
    try:
        account = invitations.check(db_session(), token)
    except invitations.InvitationInvalid:
        return _invalid()
    form = InvitationForm()
    if request.method == "POST":
        try:
            invitations.count_attempt(db_session(), token)
        except invitations.TooManyAttempts:
            form.validate()
            form.password.errors = [
                _("Zu viele Versuche mit diesem Link. Bitte versuchen Sie es in einer Stunde erneut.")
            ]
            form.password.data = form.repeat.data = None
            return render_template("auth/invitation.html", invalid=False, form=form, account=account), 429
    if form.validate_on_submit():
        try:
            account, private_key = invitations.accept(
                db_session(), current_state().config, token, form.password.data or ""
            )
        except invitations.InvitationInvalid:
            return _invalid()
        except accounts.AccountError:
            form.password.errors = [_("Das Passwort muss zwischen 12 und 1000 Zeichen lang sein.")]
        else:
            # The TOTP enrolment is the login's second step: a valid code completes the first login.
            staff.begin_second_step(account, private_key)
            return redirect(url_for("auth.second_step"), code=303)
    # A password never goes back into the page.
    form.password.data = form.repeat.data = None
    return render_template("auth/invitation.html", invalid=False, form=form, account=account), 200
