"""The partner portal: referrals to the user's organisation, packet, state, feedback, colleagues."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask import Response as FlaskResponse
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import RadioField, SelectField
from wtforms.validators import Optional

from clearing import scoping
from clearing.partners import service as partners
from clearing.partners.errors import PartnerError
from clearing.partners.models import PartnerOrganisation
from clearing.referrals import portal, states
from clearing.referrals.errors import ReferralRefused
from clearing.referrals.labels import OUTCOME_LABELS, PARTNER_STEP_LABELS, REFERRAL_STATE_LABELS
from clearing.referrals.models import Referral
from clearing.referrals.packet import packet_sections
from clearing.referrals.service import referral_reference
from clearing.scoping import get_referral, referral_query
from core import key_binding, staff
from core.db import utcnow
from core.forms import SelectChoice
from core.login_forms import PlainForm
from core.web_session import db_session
from reporting.forms import CleanTextAreaField, _choices, _too_long

bp = Blueprint("partner", __name__, url_prefix="/partner")


class UpdateForm(FlaskForm):
    state = RadioField(_l("Nächster Schritt"), validators=[Optional()], validate_choice=False)
    outcome = SelectField(
        _l("Ergebnis (bei Abschluss)"),
        choices=[SelectChoice("", _l("– bitte wählen –")), *_choices(OUTCOME_LABELS)],
        validators=[Optional()],
    )
    text = CleanTextAreaField(
        _l("Rückmeldung an die Clearingstelle (bei Ablehnung: Grund)"), validators=[Optional(), _too_long(20000)]
    )


def _partner() -> PartnerOrganisation:
    partner = db_session().get(PartnerOrganisation, staff.actor().account.partner_id)
    if partner is None:
        abort(404)
    return partner


@staff.require("partner")
def portal_home() -> str:
    """Referrals addressed to the organisation, with deadlines."""
    rows = db_session().scalars(referral_query(staff.actor()).order_by(Referral.sent_at.desc())).all()
    return render_template(
        "partner/portal.html",
        rows=rows,
        partner=_partner(),
        states=REFERRAL_STATE_LABELS,
        now=utcnow(),
        is_overdue=states.is_overdue,
        has_key=staff.actor().partner_key is not None,
        reference=referral_reference,
    )


# The blueprint's landing endpoint is named "portal" for core.staff.home_endpoint.
bp.add_url_rule("/", endpoint="portal", view_func=portal_home)


def _page(referral: Referral, form: UpdateForm) -> str:
    partner = _partner()
    try:
        view = portal.open_packet(db_session(), staff.actor(), referral, partner)
    except ReferralRefused as refused:
        return render_template("partner/unreadable.html", reason=refused.reason)
    form.state.choices = [SelectChoice(s, PARTNER_STEP_LABELS[s]) for s in states.partner_next(referral.state)]
    return render_template(
        "partner/referral.html",
        v=view,
        sections=packet_sections(view.packet),
        form=form,
        states=REFERRAL_STATE_LABELS,
        outcomes=OUTCOME_LABELS,
        now=utcnow(),
        is_overdue=states.is_overdue,
    )


@bp.get("/weiterleitung/<referral_id>")
@staff.require("partner")
def referral(referral_id: str) -> str:
    """Read the packet; the first opening acknowledges receipt."""
    return _page(get_referral(db_session(), staff.actor(), referral_id), UpdateForm(formdata=None))


@bp.post("/weiterleitung/<referral_id>")
@staff.require("partner")
def update(referral_id: str) -> str | Response:
    """Change the state and/or send feedback to the clearing office."""
    item = get_referral(db_session(), staff.actor(), referral_id)
    form = UpdateForm()
    if form.validate():
        try:
            portal.update(
                db_session(),
                staff.actor(),
                item,
                _partner(),
                state=form.state.data or None,
                outcome=form.outcome.data or None,
                text=form.text.data or "",
            )
        except ReferralRefused as refused:
            form.state.errors = [refused.reason]
        else:
            flash(_("Ihre Rückmeldung wurde verschlüsselt an die Clearingstelle gesendet."), "success")
            return redirect(url_for("partner.referral", referral_id=item.id), code=303)
    return _page(item, form)


@bp.get("/weiterleitung/<referral_id>/datei/<file_id>")
@staff.require("partner")
def download(referral_id: str, file_id: str) -> Response:
    item = get_referral(db_session(), staff.actor(), referral_id)
    try:
        meta, content = portal.download_file(db_session(), staff.actor(), item, _partner(), file_id)
    except (LookupError, ReferralRefused):
        abort(404)
    response = FlaskResponse(content, mimetype=meta.media_type)
    response.headers.set("Content-Disposition", "attachment", filename=meta.name)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/kolleginnen")
@staff.require("partner")
def colleagues() -> str:
    """Users of the organisation who wait for its key."""
    partner = _partner()
    holders = set(partners.holders(db_session(), partner))
    # An invited colleague has no key pair to receive the key until they take up their account.
    waiting = [
        a for a in db_session().scalars(scoping.colleague_query(staff.actor())) if a.id not in holders and not a.invited
    ]
    return render_template(
        "partner/colleagues.html",
        waiting=waiting,
        form=PlainForm(),
        has_key=staff.actor().partner_key is not None,
        organisation_key=partners.partner_key_shown(db_session(), partner),
    )


@bp.post("/kolleginnen/<account_id>")
@staff.require("partner")
def grant(account_id: str) -> Response:
    partner = _partner()
    grantee = scoping.find_colleague(db_session(), staff.actor(), account_id)
    key = staff.actor().partner_key
    if not PlainForm().validate() or grantee is None or key is None:
        flash(_("Diese Person kann nicht freigeschaltet werden."), "error")
    else:
        try:
            partners.grant_partner_key(db_session(), key, partner, grantee, granted_by=staff.actor().account)
        except PartnerError:
            flash(_("Ihr Schlüssel ist nicht mehr aktuell. Bitte melden Sie sich neu an."), "error")
        except key_binding.UnverifiedKey:
            flash(
                _(
                    "Der Schlüssel dieses Kontos ließ sich nicht bestätigen. Es wurde kein Zugang gegeben. "
                    "Bitte wenden Sie sich an den technischen Betrieb."
                ),
                "error",
            )
        else:
            flash(_("%(name)s hat jetzt Zugang (ab der nächsten Anmeldung).", name=grantee.display_name), "success")
    return redirect(url_for("partner.colleagues"), code=303)
