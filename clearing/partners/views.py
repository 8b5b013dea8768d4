"""The coordinator's alliance pages: the agreement editor, partner organisations, their users and keys."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from clearing import scoping
from clearing.partners import agreements as agreement_rules
from clearing.partners import service as partners
from clearing.partners.errors import AgreementInvalid, PartnerError
from clearing.partners.examples import EXAMPLE_AGREEMENT
from clearing.partners.forms import AgreementForm, PartnerUserForm
from core import accounts, invitations, key_binding, staff
from core.app import current_state
from core.forms import SelectChoice
from core.login_forms import PlainForm
from core.models import Account
from core.web_session import db_session

bp = Blueprint("alliance", __name__, url_prefix="/verwaltung")


@bp.route("/vereinbarungen", methods=["GET", "POST"])
@staff.require("coordinator")
def agreements() -> str | Response:
    """The coordinator edits the alliance agreements; only a fully valid version becomes active."""
    actor = staff.actor()
    municipality_id = actor.account.municipality_id or ""
    form = AgreementForm()
    problems: list[tuple[str, str]] = []
    if form.validate_on_submit():
        try:
            spec = agreement_rules.parse_yaml(form.text.data or "")
        except AgreementInvalid as invalid:
            problems = invalid.problems
        else:
            version = partners.save_agreement(
                db_session(), municipality_id, spec, actor_id=actor.account.id, actor_role=actor.role
            )
            flash(_("Version %(v)d der Vereinbarung ist jetzt aktiv.", v=version.version), "success")
            return redirect(url_for("alliance.agreements"), code=303)
    active = partners.active_agreement(db_session(), municipality_id)
    if not form.is_submitted():
        form.text.data = agreement_rules.to_yaml(agreement_rules.parse(active.data)) if active else EXAMPLE_AGREEMENT
    return render_template("clearing/agreements.html", form=form, active=active, problems=problems)


@staff.require("coordinator")
def partners_page() -> str | Response:
    """Partner organisations, their users, and issuing a new organisation key."""
    actor = staff.actor()
    municipality_id = actor.account.municipality_id or ""
    orgs = partners.partners_of(db_session(), municipality_id)
    form = PartnerUserForm()
    form.partner.choices = [SelectChoice(p.id, p.name) for p in orgs]
    invited = None
    if form.validate_on_submit():
        partner = next((p for p in orgs if p.id == form.partner.data), None)
        if partner is None:
            form.partner.errors = [_("Bitte wählen Sie eine Partnerorganisation.")]
        else:
            try:
                created = partners.invite_partner_user_by(
                    db_session(),
                    actor,
                    partner,
                    login=form.login.data or "",
                    display_name=form.display_name.data or "",
                )
            except accounts.AccountError:
                form.login.errors = [
                    _(
                        "Diesen Benutzernamen gibt es schon, oder er enthält unerlaubte Zeichen (erlaubt: a–z, 0–9, . _ @ -)."
                    )
                ]
            else:
                invited = (created.account, invitations.link(current_state().config.base_url, created.token))
                form = PartnerUserForm(formdata=None)
                form.partner.choices = [SelectChoice(p.id, p.name) for p in orgs]
    users = (
        db_session()
        .scalars(
            select(Account)
            .where(Account.municipality_id == municipality_id, Account.role == "partner")
            .order_by(Account.display_name)
        )
        .all()
    )
    holders = {p.id: set(partners.holders(db_session(), p)) for p in orgs}
    keys = {p.id: partners.partner_key_shown(db_session(), p) for p in orgs}
    return render_template(
        "clearing/partners.html",
        orgs=orgs,
        users=users,
        holders=holders,
        keys=keys,
        form=form,
        invited=invited,
        plain=PlainForm(),
    )


bp.add_url_rule("/partner", endpoint="partners", view_func=partners_page, methods=["GET", "POST"])


@bp.post("/partner/<partner_id>/neuer-schluessel/<account_id>")
@staff.require("coordinator")
def issue_key(partner_id: str, account_id: str) -> Response:
    """When no key holder is left: a new organisation key for one user; the office re-sends open referrals."""
    actor = staff.actor()
    partner = scoping.find_partner(db_session(), actor, partner_id)
    holder = scoping.find_account(db_session(), actor, account_id)
    back = redirect(url_for("alliance.partners"), code=303)
    if not PlainForm().validate() or partner is None or holder is None or holder.partner_id != partner.id:
        flash(_("Das ist nicht möglich."), "error")
        return back
    try:
        partners.issue_key_by(db_session(), actor, partner, holder)
    except PartnerError:
        # Someone still holds the key: a colleague passes it on instead (partner portal).
        flash(_("Das ist nicht möglich."), "error")
        return back
    except key_binding.UnverifiedKey:
        flash(
            _(
                "Der Schlüssel dieses Kontos ließ sich nicht bestätigen. Es wurde kein Zugang gegeben. "
                "Bitte wenden Sie sich an den technischen Betrieb."
            ),
            "error",
        )
        return back
    flash(
        _(
            "%(name)s hat einen neuen Organisationsschlüssel. Die Clearingstelle sendet offene Weiterleitungen erneut.",
            name=partner.name,
        ),
        "success",
    )
    return back
