"""The clearing office: inbox, case page, messages, notes, assignment, assessment, status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import Response as FlaskResponse
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from werkzeug.wrappers import Response

from clearing import codes as clearing_codes
from clearing.cases import flood_sorting, service, workflow
from clearing.cases.errors import ClearingError, NoOfficeKey, TransitionRefused
from clearing.cases.forms import (
    DEADLINE_LABELS,
    STATUS_LABELS,
    AssessmentForm,
    AssignForm,
    FloodSortingForm,
    InboxFilterForm,
    MessageForm,
    NoteForm,
    TransitionForm,
)
from clearing.cases.inbox import InboxFilter, load_inbox, normalise_reference
from clearing.cases.models import Reminder
from clearing.partners import kinds as partner_kinds
from clearing.referrals import service as referrals
from clearing.referrals.labels import OUTCOME_LABELS, REFERRAL_STATE_LABELS, REMINDER_LABELS, describe
from clearing.referrals.packet import FIELD_LABELS
from clearing.scoping import get_case, reminder_query
from core import staff
from core.app import current_state
from core.db import utcnow
from core.login_forms import PlainForm
from core.web_session import db_session
from reporting import codes
from reporting.content import CONSENTS
from reporting.models import Case
from reporting.report_text import report_lines

bp = Blueprint("clearing", __name__, url_prefix="/clearing")


@bp.get("/")
@staff.require("officer")
def inbox() -> str:
    """The inbox with filters on the clear metadata."""
    actor = staff.actor()
    form = InboxFilterForm(request.args)
    officers = service.officers_of(db_session(), actor.account.municipality_id or "")
    form.assigned.choices = [("", _("alle")), ("me", _("mir")), ("none", _("niemandem"))] + [
        (o.id, o.display_name) for o in officers
    ]
    valid = form.validate()
    filters = InboxFilter(
        status=form.status.data or "" if valid else "",
        urgency=form.urgency.data or "" if valid else "",
        incident_type=form.incident_type.data or "" if valid else "",
        motive=form.motive.data or "" if valid else "",
        received_from=form.received_from.data if valid else None,
        received_to=form.received_to.data if valid else None,
        assigned=form.assigned.data or "" if valid else "",
        overdue=bool(form.overdue.data) if valid else False,
        reference=normalise_reference(form.reference.data or "") if valid else "",
        flood=bool(form.flood.data) if valid else False,
        sort=form.sort.data or "newest" if valid else "newest",
        page=form.page.data or 1 if valid else 1,
    )
    page = load_inbox(db_session(), actor, filters, actor.office_key, today=current_state().clock.today())
    reminders = db_session().scalars(reminder_query(actor).order_by(Reminder.due_on).limit(50)).all()
    references = dict(
        db_session()
        .execute(select(Case.id, Case.reference).where(Case.id.in_([r.case_id for r in reminders if r.case_id])))
        .all()
    )
    args = {k: v for k, v in request.args.items() if k not in ("page", "lang")}
    # The filters stay folded away unless one is set ("Meine Fälle" and the search have their own controls).
    filtering = bool(form.errors) or any(
        value and (key not in ("assigned", "reference") or (key == "assigned" and value != "me"))
        for key, value in args.items()
    )
    # "Meine Fälle" is the assignee filter set to the officer: the tabs are links, the rest stays.
    others: dict[str, Any] = {k: v for k, v in args.items() if k != "assigned"}
    views = [
        (_("Alle Fälle"), url_for("clearing.inbox", **others), not filters.assigned),
        (_("Meine Fälle"), url_for("clearing.inbox", assigned="me", **others), filters.assigned == "me"),
    ]
    return render_template(
        "clearing/inbox.html",
        page=page,
        form=form,
        reminders=reminders,
        references=references,
        plain_form=PlainForm(formdata=None),
        reminder_labels=REMINDER_LABELS,
        args=args,
        views=views,
        filtering=filtering,
        deadline_labels=DEADLINE_LABELS,
        codes=codes,
        clearing_codes=clearing_codes,
        status_labels=STATUS_LABELS,
        has_key=actor.office_key is not None,
        flood_form=FloodSortingForm(formdata=None),
    )


def _kept_message(reason: str, references: list[str]) -> str:
    """Why a bulk sorting left these selected cases as they were."""
    refs = ", ".join(references)
    if reason == flood_sorting.ACUTE:
        return _(
            "Mit akuter Gefahr gemeldet, daher nicht gelöscht: %(refs)s. Bitte sichten Sie diese Meldungen einzeln.",
            refs=refs,
        )
    if reason == flood_sorting.IN_WORK:
        return _("Schon in Bearbeitung, daher nicht gelöscht: %(refs)s.", refs=refs)
    return _("Nicht als Flut markiert, daher nicht geändert: %(refs)s.", refs=refs)


@bp.post("/flut")
@staff.require("officer")
def sort_flood() -> Response:
    """Sort reports marked as flood in bulk: clear the mark (genuine) or delete them for good."""
    actor = staff.actor()
    form = FloodSortingForm()
    back = redirect(url_for("clearing.inbox", flood="y"), code=303)
    if not form.validate():
        errors = [error for field in (form.cases, form.action, form.reviewed) for error in field.errors]
        flash(str(errors[0]) if errors else _("Es wurde nichts geändert."), "error")
        return back
    discard = form.action.data == "discard"
    try:
        sort = flood_sorting.discard if discard else flood_sorting.clear_marks
        done = sort(db_session(), actor, form.cases.data or [])
    except flood_sorting.NoneFound:
        flash(_("Keine der ausgewählten Meldungen wurde gefunden. Es wurde nichts geändert."), "error")
        return back
    except NoOfficeKey:
        flash(
            _(
                "Sie haben noch keinen Zugang zu den Fallinhalten und können die Meldungen nicht sichten. "
                "Es wurde nichts geändert."
            ),
            "error",
        )
        return back
    if done.changed:
        flash(_sorted_message(done.changed, discarded=discard), "success")
    for reason, references in done.refused.items():
        flash(_kept_message(reason, references), "warning")
    return back


def _sorted_message(count: int, *, discarded: bool) -> str:
    if discarded:
        return ngettext(
            "%(num)d Meldung wurde als Flut-Meldung endgültig gelöscht.",
            "%(num)d Meldungen wurden als Flut-Meldungen endgültig gelöscht.",
            count,
        )
    return ngettext(
        "Bei %(num)d Meldung wurde die Markierung „Flut“ aufgehoben.",
        "Bei %(num)d Meldungen wurde die Markierung „Flut“ aufgehoben.",
        count,
    )


def _case_page(
    case: Case,
    *,
    message_form: MessageForm | None = None,
    note_form: NoteForm | None = None,
    assign_form: AssignForm | None = None,
    assessment_form: AssessmentForm | None = None,
    transition_form: TransitionForm | None = None,
) -> str:
    actor = staff.actor()
    try:
        case_file = service.open_case_file(db_session(), actor, case, today=current_state().clock.today())
    except NoOfficeKey:
        return render_template("clearing/no_key.html")
    assessment_form = assessment_form or _assessment_form(case_file)
    assign_form = assign_form or AssignForm(formdata=None, officer=case.assigned_to or "")
    assign_form.officer.choices = [("", _("niemand"))] + [(o.id, o.display_name) for o in case_file.officers]
    transition_form = transition_form or TransitionForm(formdata=None)
    transition_form.target.choices = [(t, workflow.ACTION_LABELS[t]) for t in workflow.allowed(case)]
    return render_template(
        "clearing/case.html",
        f=case_file,
        referrals=referrals.overview(db_session(), actor, case),
        plain_form=PlainForm(formdata=None),
        describe=describe,
        timeline_text=workflow.timeline_text,
        field_labels=FIELD_LABELS,
        referral_states=REFERRAL_STATE_LABELS,
        outcome_labels=OUTCOME_LABELS,
        partner_kind_names=partner_kinds.NAMES,
        message_form=message_form or MessageForm(formdata=None),
        note_form=note_form or NoteForm(formdata=None),
        assign_form=assign_form,
        transition_form=transition_form,
        assessment_form=assessment_form,
        report=report_lines(case_file.report),
        consents=CONSENTS,
        clearing_codes=clearing_codes,
        status_labels=STATUS_LABELS,
    )


def _assessment_form(case_file: service.CaseFile) -> AssessmentForm:
    a = case_file.assessment
    if a is None:
        report = case_file.report
        return AssessmentForm(
            formdata=None,
            urgency=case_file.case.urgency,
            incident_types=report.get("incident_types", []),
            motives=[m for m in report.get("motives", []) if m != "unknown"],
        )
    return AssessmentForm(
        formdata=None,
        urgency=a.urgency,
        escalation_level=str(a.escalation_level),
        incident_types=a.codes_of("incident_type"),
        motives=a.codes_of("motive"),
        offences=a.codes_of("offence"),
        phenomenon_area=a.phenomenon_area,
        known_on=a.known_on,
        employer_duty=a.employer_duty,
        case_conference=a.case_conference,
        notes=case_file.assessment_notes or "",
    )


@bp.get("/fall/<case_id>")
@staff.require("officer")
def case(case_id: str) -> str:
    """The case page: the decrypted report and all work on it."""
    return _case_page(get_case(db_session(), staff.actor(), case_id))


@bp.get("/fall/<case_id>/datei/<attachment_id>")
@staff.require("officer")
def attachment(case_id: str, attachment_id: str) -> Response:
    """Download an evidence file, always as an attachment with a safe name."""
    case_row = get_case(db_session(), staff.actor(), case_id)
    try:
        meta, content = service.download_attachment(db_session(), staff.actor(), case_row, attachment_id)
    except (LookupError, NoOfficeKey):
        abort(404)
    response = FlaskResponse(content, mimetype=meta.media_type)
    response.headers.set("Content-Disposition", "attachment", filename=meta.name)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _flash_saved(saved: str, case_row: Case, not_moved: str | None) -> None:
    """What was saved and the status it left the case in; if the status could not follow, why."""
    status = STATUS_LABELS.get(case_row.status, case_row.status)
    if not_moved is None:
        flash(_("%(saved)s Status: %(status)s.", saved=saved, status=status), "success")
    else:
        flash(saved, "success")
        flash(_("Der Status bleibt „%(status)s“: %(reason)s", status=status, reason=not_moved), "warning")


def _redirect_to_case(case_row: Case, anchor: str = "") -> Response:
    return redirect(url_for("clearing.case", case_id=case_row.id) + anchor, code=303)


@bp.post("/fall/<case_id>/nachricht")
@staff.require("officer")
def message(case_id: str) -> str | Response:
    """Send a message to the reporter's mailbox."""
    case_row = get_case(db_session(), staff.actor(), case_id)
    form = MessageForm()
    if form.validate():
        service.send_message(db_session(), staff.actor(), case_row, form.body.data or "")
        flash(_("Die Nachricht wurde verschlüsselt in das Postfach der meldenden Person gestellt."), "success")
        return _redirect_to_case(case_row, "#nachrichten")
    # 200, not 422: the page shows decrypted content, and its audit event must be committed.
    return _case_page(case_row, message_form=form)


@bp.post("/fall/<case_id>/notiz")
@staff.require("officer")
def note(case_id: str) -> str | Response:
    """Add an internal, encrypted note."""
    case_row = get_case(db_session(), staff.actor(), case_id)
    form = NoteForm()
    if form.validate():
        service.add_note(db_session(), staff.actor(), case_row, form.note.data or "")
        flash(_("Die Notiz wurde gespeichert."), "success")
        return _redirect_to_case(case_row, "#notizen")
    # 200, not 422: the page shows decrypted content, and its audit event must be committed.
    return _case_page(case_row, note_form=form)


@bp.post("/fall/<case_id>/zustaendig")
@staff.require("officer")
def assign(case_id: str) -> str | Response:
    """Assign the case to an officer (or nobody)."""
    case_row = get_case(db_session(), staff.actor(), case_id)
    form = AssignForm()
    if form.validate():
        try:
            service.assign(db_session(), staff.actor(), case_row, form.officer.data or None)
        except ClearingError:
            form.officer.errors = [_("Diese Person gibt es in Ihrer Clearingstelle nicht.")]
        else:
            flash(_("Die Zuständigkeit wurde geändert."), "success")
            return _redirect_to_case(case_row, "#ablauf")
    # 200, not 422: the page shows decrypted content, and its audit event must be committed.
    return _case_page(case_row, assign_form=form)


@bp.post("/fall/<case_id>/bewertung")
@staff.require("officer")
def assessment(case_id: str) -> str | Response:
    """Save the assessment."""
    case_row = get_case(db_session(), staff.actor(), case_id)
    form = AssessmentForm()
    if form.validate():
        status_note = service.save_assessment(
            db_session(),
            staff.actor(),
            case_row,
            service.AssessmentInput(
                urgency=form.urgency.data,
                escalation_level=int(form.escalation_level.data),
                incident_types=list(form.incident_types.data or []),
                motives=list(form.motives.data or []),
                offences=list(form.offences.data or []),
                phenomenon_area=form.phenomenon_area.data or None,
                employer_duty=bool(form.employer_duty.data),
                case_conference=bool(form.case_conference.data),
                known_on=form.known_on.data,
                notes=form.notes.data or "",
            ),
        )
        _flash_saved(
            _("Die Bewertung wurde gespeichert."),
            case_row,
            status_note,
        )
        return _redirect_to_case(case_row, "#bewertung")
    # 200, not 422: the page shows decrypted content, and its audit event must be committed.
    return _case_page(case_row, assessment_form=form)


@bp.post("/fall/<case_id>/status")
@staff.require("officer")
def status(case_id: str) -> str | Response:
    """Move the case through the workflow."""
    case_row = get_case(db_session(), staff.actor(), case_id)
    form = TransitionForm()
    if form.validate():
        try:
            service.change_status(db_session(), staff.actor(), case_row, form.target.data, form.reason.data or "")
        except TransitionRefused as refused:
            form.target.errors = [refused.reason]
        else:
            flash(
                _("Der Status ist jetzt: %(status)s.", status=STATUS_LABELS.get(case_row.status, case_row.status)),
                "success",
            )
            return _redirect_to_case(case_row, "#ablauf")
    # 200, not 422: the page shows decrypted content, and its audit event must be committed.
    return _case_page(case_row, transition_form=form)


@bp.post("/erinnerung/<reminder_id>/erledigt")
@staff.require("officer")
def dismiss_reminder(reminder_id: str) -> Response:
    """Mark a reminder as dealt with."""
    reminder = db_session().scalar(reminder_query(staff.actor()).where(Reminder.id == reminder_id))
    if reminder is None:
        abort(404)
    if PlainForm().validate():
        reminder.dismissed_at = utcnow()
    return redirect(url_for("clearing.inbox"), code=303)
