"""Officer pages for referrals: preview, confirm, four-eyes approval, re-sending."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from clearing.cases.views import bp
from clearing.partners.models import PartnerOrganisation
from clearing.referrals import service as referrals
from clearing.referrals.errors import ReferralRefused
from clearing.referrals.labels import describe
from clearing.referrals.models import Referral
from clearing.referrals.packet import packet_sections
from clearing.scoping import get_case
from core import staff
from core.login_forms import PlainForm
from core.web_session import db_session


@bp.route("/fall/<case_id>/weiterleiten/<partner_key>", methods=["GET", "POST"])
@staff.require("officer")
def refer(case_id: str, partner_key: str) -> str | Response:
    """Preview exactly what the partner will read, choose files, confirm."""
    case = get_case(db_session(), staff.actor(), case_id)
    form = PlainForm()
    if form.validate_on_submit():
        try:
            referral = referrals.create_referral(
                db_session(), staff.actor(), case, partner_key, request.form.getlist("files")
            )
        except ReferralRefused as refused:
            flash(refused.reason, "error")
            return redirect(url_for("clearing.case", case_id=case.id) + "#weiterleitungen", code=303)
        if referral.state == "awaiting_approval":
            flash(_("Die Weiterleitung ist vorbereitet. Eine zweite Fachkraft muss sie freigeben."), "success")
        else:
            flash(_("Die Weiterleitung wurde verschlüsselt gesendet."), "success")
        return redirect(url_for("clearing.case", case_id=case.id) + "#weiterleitungen", code=303)
    try:
        shown = referrals.preview(db_session(), staff.actor(), case, partner_key)
    except ReferralRefused as refused:
        flash(refused.reason, "error")
        return redirect(url_for("clearing.case", case_id=case.id) + "#weiterleitungen", code=303)
    return render_template(
        "clearing/refer.html",
        case=case,
        p=shown,
        sections=packet_sections(shown.packet, shown.recommendation.fields),
        form=form,
        describe=describe,
    )


@bp.post("/fall/<case_id>/weiterleitung/<referral_id>/freigeben")
@staff.require("officer")
def approve(case_id: str, referral_id: str) -> Response:
    """The second officer releases a prepared referral."""
    case = get_case(db_session(), staff.actor(), case_id)
    if PlainForm().validate():
        try:
            referrals.approve_referral(db_session(), staff.actor(), case, referral_id)
        except ReferralRefused as refused:
            flash(refused.reason, "error")
        else:
            flash(_("Die Weiterleitung wurde freigegeben und gesendet."), "success")
    return redirect(url_for("clearing.case", case_id=case.id) + "#weiterleitungen", code=303)


@bp.post("/fall/<case_id>/weiterleitung/<referral_id>/neu-senden")
@staff.require("officer")
def resend(case_id: str, referral_id: str) -> Response:
    """After a partner received a new organisation key: seal the referral to it again."""
    case = get_case(db_session(), staff.actor(), case_id)
    referral = db_session().get(Referral, referral_id)
    if PlainForm().validate() and referral is not None and referral.case_id == case.id:
        partner = db_session().get_one(PartnerOrganisation, referral.partner_id)
        try:
            referrals.resend(db_session(), staff.actor(), referral, partner)
        except ReferralRefused as refused:
            flash(refused.reason, "error")
        else:
            flash(_("Die Weiterleitung wurde erneut gesendet."), "success")
    return redirect(url_for("clearing.case", case_id=case.id) + "#weiterleitungen", code=303)
