"""Public pages for reporters: start page, intake form, receipt, mailbox."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import timedelta

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from core import key_binding, secret_sessions
from core.app import current_state
from core.db import utcnow
from core.models import Municipality, municipalities_accepting_reports
from core.tenancy import municipality_by_slug
from core.web_session import db_session, if_commit_unconfirmed
from reporting import challenge, codes, service, timeline
from reporting.errors import ReceiptNotFound, TooManyAttempts
from reporting.forms import ConfirmForm, ConsentForm, NotedForm, ReceiptForm, ReplyForm, ReportForm
from reporting.intake import check_files, report_from_form
from reporting.receipt import PendingReceipt, open_receipt, seal_receipt
from reporting.report_text import report_lines
from reporting.uploads import rebuild_gate

bp = Blueprint("reporting", __name__)
log = logging.getLogger(__name__)

MAILBOX_IDLE = timedelta(minutes=15)
# Set when the submission's commit failed without knowing whether it held.
UNCONFIRMED = "receipt_unconfirmed"
# How often the page of a deferred receipt code asks again (seconds; the Refresh header needs no script).
LATE_RECEIPT_RETRY = 15
EMERGENCY_NUMBER = re.compile(r"(?<!\d)(110|112)(?!\d)")


@bp.app_template_filter("tel_links")
def tel_links(text: str) -> Markup:
    """Escape a text and make the emergency numbers 110 and 112 in it callable links (for phones)."""
    parts = EMERGENCY_NUMBER.split(str(text))  # numbers at the odd places
    link = Markup('<a href="tel:{0}">{0}</a>')
    return Markup("").join(link.format(part) if n % 2 else escape(part) for n, part in enumerate(parts))


def _open_municipality(slug: str) -> Municipality:
    municipality = municipality_by_slug(db_session(), slug)
    if municipality is None or not municipality.accepts_reports or not municipality.office_public_key:
        abort(404)
    return municipality


@bp.get("/")
def index() -> str:
    """Start page: the municipalities that accept reports."""
    return render_template("reporting/index.html", municipalities=municipalities_accepting_reports(db_session()))


@bp.route("/melden/<slug>", methods=["GET", "POST"])
def report(slug: str) -> str | Response | tuple[str, int]:
    """The intake form of one municipality."""
    municipality = _open_municipality(slug)
    if not key_binding.verifies_office_key(db_session(), municipality):
        return _office_key_refused(municipality, submitted=request.method == "POST")
    form = ReportForm()
    file_errors: list[str] = []
    chosen_files: list[str] = []
    if form.is_submitted():
        # Used up by this request whatever comes of it (the page that comes back has a new one): it
        # decides the lane of the images too, and one solution must not buy many image rebuilds.
        solved = _redeem_challenge(challenge.report_purpose(municipality.id))
        files = check_files(
            request.files.getlist(form.files.name), current_state().config, gate=rebuild_gate(paid=solved)
        )
        file_errors, chosen_files = files.errors, files.chosen_names
        valid = form.validate()
        # On the field itself: the error summary then lists them in page order, linked to the input.
        form.files.errors = [*form.files.errors, *file_errors]
        if form.website.data:
            # A bot filled the hidden field: refuse without saying which field gave it away.
            flash(_("Ihre Meldung konnte nicht angenommen werden. Bitte versuchen Sie es erneut."), "error")
        elif valid and not file_errors:
            try:
                submitted = service.submit_report(
                    db_session(),
                    current_state().config,
                    municipality,
                    report_from_form(form, files.evidence),
                    solved=solved,
                )
            except key_binding.UnverifiedKey:
                return _office_key_refused(municipality, submitted=True)
            _hold_receipt(slug, municipality, submitted)
            return redirect(url_for("reporting.receipt", slug=slug), code=303)
    status = 400 if form.is_submitted() else 200
    page = render_template(
        "reporting/report_form.html",
        form=form,
        municipality=municipality,
        codes=codes,
        file_errors=file_errors,
        chosen_files=chosen_files,
        challenge=_new_challenge(challenge.report_purpose(municipality.id)),
        config=current_state().config,
    )
    return page if status == 200 else (page, 422)


def _new_challenge(purpose: str) -> challenge.Challenge:
    state = current_state()
    return challenge.issue(db_session(), state.config, purpose, state.clock.now())


def _redeem_challenge(purpose: str) -> bool:
    """Whether the form came with a solved challenge (static/js/challenge.js); never an error."""
    state = current_state()
    return challenge.redeem(
        state.session_factory,
        state.config,
        purpose,
        request.form.get("challenge", ""),
        request.form.get("solution", ""),
        state.clock.now(),
    )


def _office_key_refused(municipality: Municipality, *, submitted: bool = False) -> tuple[str, int]:
    """The office key does not verify (someone may have put their own into the database): no report
    is taken, and the reporter is told so before writing one, or that theirs was not stored."""
    log.error("intake of municipality %s closed: its office key does not verify", municipality.id)
    page = render_template("reporting/office_key_refused.html", municipality=municipality, submitted=submitted)
    return page, 503


def _hold_receipt(slug: str, municipality: Municipality, submitted: service.Submitted) -> None:
    """Seal the receipt into the cookie; if the commit fails uncertainly, the page checks first."""
    pending = PendingReceipt(
        code=submitted.receipt_code,
        urgent=submitted.case.urgency == "acute",
        case_id=submitted.case.id,
        office_name=municipality.office_name,
        issued_at=utcnow(),
        deferred_key=submitted.deferred_case_key,
    )
    session.pop(UNCONFIRMED, None)
    _seal_receipt(slug, municipality.id, pending)
    if_commit_unconfirmed(
        UNCONFIRMED, url_for("reporting.receipt", slug=slug), _("Nachsehen, ob die Meldung gespeichert wurde")
    )


def _seal_receipt(slug: str, municipality_id: str, pending: PendingReceipt) -> None:
    session["receipt"] = {
        "slug": slug,
        "municipality": municipality_id,
        "sealed": seal_receipt(current_state().config.secret_key, municipality_id, pending),
    }


def _forget_receipt() -> None:
    session.pop("receipt", None)
    session.pop(UNCONFIRMED, None)


def _held_receipt(slug: str) -> PendingReceipt | None:
    held = session.get("receipt")
    if not isinstance(held, dict) or held.get("slug") != slug:
        return None
    return open_receipt(current_state().config.secret_key, str(held.get("municipality")), held.get("sealed"))


@bp.get("/melden/<slug>/eingang")
def receipt(slug: str) -> str | Response | tuple[str, int]:
    """The receipt code, from the cookie alone: it needs no database to be shown."""
    pending = _held_receipt(slug)
    if pending is None:
        _open_municipality(slug)  # an unknown address is a 404, as everywhere
        _forget_receipt()
        return render_template("reporting/receipt_gone.html")
    if session.get(UNCONFIRMED):
        stored = service.report_stored(current_state().engine, pending.case_id)
        if stored is None:
            return render_template("reporting/receipt_unconfirmed.html", slug=slug), 503
        session.pop(UNCONFIRMED, None)
        if not stored:
            _forget_receipt()
            return render_template("reporting/receipt_not_stored.html", slug=slug)
    if pending.deferred_key is not None:
        waiting = _deferred_receipt(slug, pending)
        if waiting is not None:
            return waiting
    return render_template(
        "reporting/receipt.html",
        code=pending.code,
        urgent=pending.urgent,
        office_name=pending.office_name,
        issued_at=pending.issued_at,
        mailbox_address=mailbox_address(),
        slug=slug,
        form=NotedForm(),
    )


def _deferred_receipt(slug: str, pending: PendingReceipt) -> Response | None:
    """A report taken during a flood without a solved challenge: its code is derived here, in the
    slow lane (reporting.flood), and shown (None: show the receipt) once its way in is stored."""
    municipality_id = str(session["receipt"]["municipality"])
    if pending.code:
        if service.receipt_issued(db_session(), pending.case_id):
            _seal_receipt(slug, municipality_id, replace(pending, deferred_key=None))
            return None
        pending = replace(pending, code="")  # the request that made it did not commit
    key = pending.deferred_key or b""
    try:
        code = service.issue_late_receipt(db_session(), current_state().config, pending.case_id, key)
    except ReceiptNotFound:
        _forget_receipt()
        return make_response(render_template("reporting/receipt_gone.html"))
    if code is None:
        page = make_response(
            render_template(
                "reporting/receipt_waiting.html", slug=slug, urgent=pending.urgent, office_name=pending.office_name
            )
        )
        page.headers["Refresh"] = str(LATE_RECEIPT_RETRY)
        return page
    _seal_receipt(slug, municipality_id, replace(pending, code=code))
    return redirect(url_for("reporting.receipt", slug=slug), code=303)


def mailbox_address() -> str:
    """The mailbox's full address, as the reporter will type it later: the public one, no language."""
    return current_state().config.base_url.rstrip("/") + url_for("reporting.mailbox_login", lang=None)


@bp.post("/melden/<slug>/eingang")
def receipt_noted(slug: str) -> Response:
    """ "I have noted the code": from now on it is gone for good."""
    if NotedForm().validate():
        _forget_receipt()
        flash(_("Der Code wird nicht mehr angezeigt. Mit ihm öffnen Sie hier Ihr Postfach."), "success")
        return redirect(url_for("reporting.mailbox_login"), code=303)
    return redirect(url_for("reporting.receipt", slug=slug), code=303)


# The mailbox --------------------------------------------------------------------------------


def _mailbox_key() -> service.MailboxKey | None:
    opened = secret_sessions.open_session(db_session(), session.get("mailbox"), purpose="mailbox")
    if opened is None:
        session.pop("mailbox", None)
        return None
    return service.MailboxKey(opened.subject_id, opened.secret)


@bp.route("/postfach", methods=["GET", "POST"])
def mailbox_login() -> str | Response:
    """Enter the receipt code."""
    form = ReceiptForm()
    if form.validate_on_submit():
        solved = _redeem_challenge(challenge.mailbox_purpose())
        try:
            key = service.open_mailbox(db_session(), current_state().config, form.code.data or "", solved=solved)
        except ReceiptNotFound:
            form.code.errors = [_("Dieser Zugangscode wurde nicht gefunden. Bitte prüfen Sie die Ziffern.")]
        except TooManyAttempts:
            form.code.errors = [
                _(
                    "Gerade werden sehr viele Codes ohne die kleine Rechenaufgabe dieser Seite ausprobiert, "
                    "deshalb wurde Ihr Code noch nicht geprüft. Bitte senden Sie ihn in einer Minute noch "
                    "einmal. Mit eingeschaltetem JavaScript löst Ihr Browser die Aufgabe selbst und Ihr Code "
                    "wird sofort geprüft."
                )
            ]
        else:
            secret_sessions.end(db_session(), session.get("mailbox"))
            session.clear()
            session["mailbox"] = secret_sessions.create(
                db_session(), purpose="mailbox", subject_id=key.case_id, secret=key.case_key, idle=MAILBOX_IDLE
            )
            return redirect(url_for("reporting.mailbox"), code=303)
    # Always 200: the failed attempt must be committed so the budget and the counts hold it.
    return render_template(
        "reporting/mailbox_login.html", form=form, challenge=_new_challenge(challenge.mailbox_purpose())
    )


@bp.get("/postfach/ansicht")
def mailbox() -> Response | tuple[str, int]:
    """The reporter's mailbox: status, messages, reply, consents, deletion."""
    key = _mailbox_key()
    if key is None:
        flash(_("Ihr Postfach wurde geschlossen. Bitte geben Sie Ihren Zugangscode erneut ein."), "info")
        return redirect(url_for("reporting.mailbox_login"), code=303)
    return _render_mailbox(key, ReplyForm(), ConsentForm(), ConfirmForm())


def _render_mailbox(
    key: service.MailboxKey,
    reply: ReplyForm,
    consent: ConsentForm,
    delete: ConfirmForm,
    status: int = 200,
    file_errors: list[str] | None = None,
) -> tuple[str, int]:
    view = service.mailbox_view(db_session(), key)
    reply.files.errors = [*reply.files.errors, *(file_errors or [])]
    if not consent.is_submitted():
        for name, value in view.consents.items():
            consent[f"consent_{name}"].data = value
    page = render_template(
        "reporting/mailbox.html",
        view=view,
        report=report_lines(view.report),
        reply=reply,
        consent=consent,
        delete=delete,
        codes=codes,
        event_text=timeline.current_event_text(),
        file_errors=file_errors or [],
        config=current_state().config,
    )
    return page, status


@bp.post("/postfach/nachricht")
def mailbox_reply() -> str | Response | tuple[str, int]:
    """A message or additional information, with files."""
    key = _mailbox_key()
    if key is None:
        return redirect(url_for("reporting.mailbox_login"), code=303)
    form = ReplyForm()
    files = check_files(request.files.getlist(form.files.name), current_state().config, gate=rebuild_gate(paid=True))
    if form.validate() and not files.errors:
        service.add_reporter_message(db_session(), key, form.body.data or "", files.evidence)
        flash(_("Ihre Nachricht wurde verschlüsselt gesendet."), "success")
        return redirect(url_for("reporting.mailbox") + "#nachrichten", code=303)
    return _render_mailbox(key, form, ConsentForm(formdata=None), ConfirmForm(formdata=None), 422, files.errors)


@bp.post("/postfach/einwilligungen")
def mailbox_consents() -> str | Response | tuple[str, int]:
    """Grant or withdraw each consent."""
    key = _mailbox_key()
    if key is None:
        return redirect(url_for("reporting.mailbox_login"), code=303)
    form = ConsentForm()
    if form.validate():
        changed = service.change_consents(db_session(), key, form.consents())
        flash(_("Ihre Einwilligungen wurden geändert.") if changed else _("Es wurde nichts geändert."), "success")
        return redirect(url_for("reporting.mailbox") + "#einwilligungen", code=303)
    return _render_mailbox(key, ReplyForm(formdata=None), form, ConfirmForm(formdata=None), 422)


@bp.post("/postfach/loeschen")
def mailbox_delete() -> str | Response | tuple[str, int]:
    """Ask for the report to be deleted."""
    key = _mailbox_key()
    if key is None:
        return redirect(url_for("reporting.mailbox_login"), code=303)
    form = ConfirmForm()
    if form.validate() and form.confirm.data:
        service.request_deletion(db_session(), key)
        flash(_("Ihr Löschwunsch wurde gespeichert. Die Clearingstelle löscht Ihre Meldung."), "success")
        return redirect(url_for("reporting.mailbox") + "#loeschen", code=303)
    form.confirm.errors = [_("Bitte bestätigen Sie, dass Sie die Löschung wünschen.")]
    return _render_mailbox(key, ReplyForm(formdata=None), ConsentForm(formdata=None), form, 422)


@bp.post("/postfach/verlassen")
def mailbox_leave() -> Response:
    """Close the mailbox: the server half of the session is deleted."""
    ConfirmForm().validate()
    secret_sessions.end(db_session(), session.pop("mailbox", None))
    session.clear()
    flash(_("Ihr Postfach ist geschlossen. Schließen Sie auf geteilten Geräten jetzt auch den Browser."), "success")
    return redirect(url_for("reporting.mailbox_login"), code=303)
