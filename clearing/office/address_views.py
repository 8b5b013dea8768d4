"""The coordinator's page for the office's notification address (its shared mailbox), confirmed by a link."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response
from wtforms import StringField

from clearing.office.views import bp
from core import addresses, staff
from core.app import current_state
from core.login import address_refused_message
from core.login_forms import ADDRESS_VALIDATORS, EmailForm, PlainForm
from core.models import Municipality
from core.web_session import db_session


class OfficeAddressForm(EmailForm):
    address = StringField(
        _l("Neue Adresse der Clearingstelle"),
        validators=ADDRESS_VALIDATORS,
        description=_l(
            "Ein Funktionspostfach, das mehrere Fachkräfte lesen, zum Beispiel clearingstelle@kommune.de. "
            "Wir senden einen Bestätigungslink dorthin; die Adresse gilt erst, wenn jemand den Link öffnet."
        ),
    )


def _municipality() -> Municipality:
    municipality = db_session().get(Municipality, staff.actor().account.municipality_id)
    if municipality is None:
        raise RuntimeError("a coordinator belongs to a municipality")
    return municipality


def _page(form: OfficeAddressForm) -> str:
    municipality = _municipality()
    return render_template(
        "clearing/office_address.html",
        form=form,
        municipality=municipality,
        pending=addresses.pending(db_session(), municipality=municipality),
        plain=PlainForm(),
    )


@bp.route("/benachrichtigungen", methods=["GET", "POST"])
@staff.require("coordinator")
def office_address() -> str | Response:
    """Where "a new report is waiting" goes besides the officers' own addresses."""
    form = OfficeAddressForm()
    if form.validate_on_submit():
        try:
            addresses.request_confirmation(
                db_session(),
                current_state().config,
                form.address.data or "",
                actor=staff.actor().account,
                municipality=_municipality(),
            )
        except addresses.AddressRefused as refused:
            form.address.errors = [address_refused_message(refused)]
        else:
            flash(
                _(
                    "Wir haben einen Bestätigungslink an %(address)s gesendet. Die Adresse gilt, sobald jemand den Link öffnet (innerhalb von 24 Stunden).",
                    address=form.address.data,
                ),
                "success",
            )
            return redirect(url_for("admin.office_address"), code=303)
    return _page(form if form.is_submitted() else OfficeAddressForm(formdata=None))


@bp.post("/benachrichtigungen/entfernen")
@staff.require("coordinator")
def remove_office_address() -> Response:
    """The office gets no more notification mails (the officers' own addresses still do)."""
    if PlainForm().validate():
        addresses.remove(db_session(), actor=staff.actor().account, municipality=_municipality())
        flash(_("Die Adresse der Clearingstelle wurde entfernt."), "success")
    return redirect(url_for("admin.office_address"), code=303)
