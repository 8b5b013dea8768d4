"""Running the office: the coordinator's team page, granting the office key, the network operator's municipalities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from clearing import scoping
from clearing.cases import service
from clearing.office import network as network_service
from clearing.office import team as team_service
from clearing.office.errors import TeamRefused
from clearing.office.forms import CreateAccountForm, CreateMunicipalityForm
from core import accounts, custody, invitations, key_binding, staff
from core.app import current_state
from core.login_forms import PlainForm
from core.models import Account, Municipality
from core.tenancy import TenancyError
from core.web_session import db_session
from reporting import flood
from workers.models import OutboxEntry

bp = Blueprint("admin", __name__, url_prefix="/verwaltung")


@bp.before_app_request
def _rotate_office_key_when_due() -> None:
    """An officer who holds the office keys rotates them when due: an officer left, or the key is old."""
    if request.endpoint == "static":
        return
    actor = staff.current()
    if actor is None or actor.keyring is None:
        return
    try:
        keyring = team_service.rotate_if_due(db_session(), actor, current_state().clock.now())
    except custody.CustodyError:
        return  # a colleague's request rotated it at the same moment: theirs holds
    if keyring is not None:
        staff.replace_office_keys(actor.account, keyring)


def _team_page(form: CreateAccountForm, invited: tuple[Account, str] | None = None) -> str:
    """The team; `invited`: an account just invited and its link, shown this once."""
    actor = staff.actor()
    members = team_service.members(db_session(), actor.account.municipality_id or "")
    links = invitations.open_until(db_session(), [m.account.id for m in members if m.account.invited])
    municipality = db_session().get(Municipality, actor.account.municipality_id or "")
    return render_template(
        "clearing/team.html",
        office_key=key_binding.office_key_shown(db_session(), municipality) if municipality else None,
        form=form,
        members=members,
        invited=invited,
        invitations_open=links,
        plain=PlainForm(formdata=None),
        me=actor,
    )


def _link(token: str) -> str:
    return invitations.link(current_state().config.base_url, token)


def _team_member(account_id: str) -> Account:
    """An account of the coordinator's municipality, or 404."""
    return scoping.get_account(db_session(), staff.actor(), account_id)


@bp.get("/team/<account_id>/deaktivieren")
@staff.require("coordinator")
def confirm_deactivate(account_id: str) -> str:
    """Ask before an account is switched off: what it means for the person."""
    account = _team_member(account_id)
    if account.id == staff.actor().account.id or not account.active:
        abort(404)
    return render_template("clearing/team_deactivate.html", member=account, form=PlainForm())


@bp.post("/team/<account_id>/deaktivieren")
@staff.require("coordinator")
def deactivate(account_id: str) -> Response:
    """The account can no longer log in; its sessions end at once."""
    return _set_active(account_id, active=False)


@bp.post("/team/<account_id>/aktivieren")
@staff.require("coordinator")
def reactivate(account_id: str) -> Response:
    """A deactivated account may log in again (with its own password and code)."""
    return _set_active(account_id, active=True)


def _set_active(account_id: str, *, active: bool) -> Response:
    account = _team_member(account_id)
    if PlainForm().validate():
        try:
            team_service.set_active(db_session(), staff.actor(), account, active)
        except TeamRefused as refused:
            flash(refused.reason, "error")
        else:
            if active:
                flash(_("Das Konto von %(name)s ist wieder aktiv.", name=account.display_name), "success")
            else:
                flash(
                    _(
                        "Das Konto von %(name)s ist deaktiviert. Alle Sitzungen wurden beendet.",
                        name=account.display_name,
                    ),
                    "success",
                )
    return redirect(url_for("admin.team"), code=303)


@bp.route("/team", methods=["GET", "POST"])
@staff.require("coordinator")
def team() -> str | Response:
    """The coordinator manages the accounts of the municipality (and reads no case)."""
    actor = staff.actor()
    form = CreateAccountForm()
    if form.validate_on_submit():
        try:
            created = team_service.add_member(
                db_session(),
                actor,
                login=form.login.data or "",
                role=form.role.data,
                display_name=form.display_name.data or "",
            )
        except accounts.AccountError:
            form.login.errors = [
                _(
                    "Diesen Benutzernamen gibt es schon, oder er enthält unerlaubte Zeichen (erlaubt: a–z, 0–9, . _ @ -)."
                )
            ]
        else:
            return _team_page(CreateAccountForm(formdata=None), (created.account, _link(created.token)))
    return _team_page(form)


@bp.post("/team/<account_id>/einladen")
@staff.require("coordinator")
def renew_invitation(account_id: str) -> str | Response:
    """A new invitation link for an account not taken up yet (the old link stops working); shown once."""
    account = _team_member(account_id)
    if not PlainForm().validate():
        return redirect(url_for("admin.team"), code=303)
    try:
        token = team_service.renew_invitation(db_session(), staff.actor(), account)
    except TeamRefused as refused:
        flash(refused.reason, "error")
        return redirect(url_for("admin.team"), code=303)
    return _team_page(CreateAccountForm(formdata=None), (account, _link(token)))


@bp.route("/freischalten", methods=["GET", "POST"])
@staff.require("officer")
def grants() -> str | Response:
    """An officer who holds the office key passes it to a new colleague."""
    actor = staff.actor()
    waiting = service.officers_without_grant(db_session(), actor.account.municipality_id or "")
    epochs = custody.epochs_of(db_session(), actor.account.municipality_id or "")
    return render_template(
        "clearing/grants.html",
        waiting=waiting,
        form=PlainForm(),
        has_key=actor.office_key is not None,
        can_rotate=actor.keyring is not None,
        epochs=epochs,
        backup_retention=timedelta(days=current_state().config.backup_retention_days),
    )


@bp.post("/schluessel-erneuern")
@staff.require("officer")
def rotate() -> Response:
    """An officer who holds the office keys starts a new one: new cases are sealed to it."""
    actor = staff.actor()
    if not PlainForm().validate() or actor.keyring is None:
        flash(_("Sie haben keinen Zugang zu den Fällen und können den Schlüssel nicht erneuern."), "error")
        return redirect(url_for("admin.grants"), code=303)
    try:
        keyring = team_service.rotate_office_key(db_session(), actor, current_state().clock.now(), "on_demand")
    except custody.CustodyError:
        flash(
            _("Der Schlüssel konnte nicht erneuert werden. Melden Sie sich neu an und versuchen Sie es noch einmal."),
            "error",
        )
    else:
        staff.replace_office_keys(actor.account, keyring)
        flash(
            _(
                "Der Schlüssel der Clearingstelle ist erneuert. Neue Fälle werden mit dem neuen Schlüssel "
                "verschlüsselt; Kolleginnen und Kollegen melden sich neu an."
            ),
            "success",
        )
    return redirect(url_for("admin.grants"), code=303)


@bp.post("/freischalten/<account_id>")
@staff.require("officer")
def grant(account_id: str) -> Response:
    actor = staff.actor()
    form = PlainForm()
    grantee = scoping.find_account(db_session(), actor, account_id)
    if not form.validate() or grantee is None:
        flash(_("Diese Person gibt es in Ihrer Clearingstelle nicht."), "error")
    elif actor.office_key is None:
        flash(_("Sie haben selbst noch keinen Zugang zu den Fällen und können ihn nicht weitergeben."), "error")
    else:
        try:
            team_service.grant_office_key(db_session(), actor, actor.office_key, grantee)
        except custody.CustodyError:
            flash(_("Nur Clearing-Fachkräfte können Zugang zu den Fällen erhalten."), "error")
        except key_binding.UnverifiedKey:
            flash(
                _(
                    "Der Schlüssel dieses Kontos ließ sich nicht bestätigen. Es wurde kein Zugang gegeben. "
                    "Bitte wenden Sie sich an den technischen Betrieb."
                ),
                "error",
            )
        else:
            flash(
                _("%(name)s hat jetzt Zugang zu den Fällen (ab der nächsten Anmeldung).", name=grantee.display_name),
                "success",
            )
    return redirect(url_for("admin.grants"), code=303)


@bp.route("/netzwerk", methods=["GET", "POST"])
@staff.require("network_operator")
def network() -> str | Response:
    """The network operator creates municipalities; the recovery key is shown once."""
    actor = staff.actor()
    form = CreateMunicipalityForm()
    created = None
    if form.validate_on_submit():
        try:
            created = network_service.add_municipality(db_session(), actor, form.slug.data or "", form.name.data or "")
        except TenancyError:
            form.slug.errors = [
                _("Diesen Kurznamen gibt es schon, oder er ist ungültig (erlaubt: a–z, 0–9 und Bindestrich).")
            ]
        else:
            form = CreateMunicipalityForm(formdata=None)
    municipalities = db_session().scalars(select(Municipality).order_by(Municipality.name)).all()
    return render_template("clearing/network.html", form=form, municipalities=municipalities, created=created)


@dataclass(frozen=True)
class FloodRow:
    """One municipality's reports, this hour and the one before (numbers only)."""

    name: str
    current: flood.IntakeCounts
    previous: flood.IntakeCounts


@bp.get("/status")
@staff.require("coordinator", "network_operator")
def status() -> str:
    """Jobs that failed for good (no content: the job's name, times and the error's class), and floods (counts)."""
    failed = (
        db_session()
        .scalars(
            select(OutboxEntry)
            .where(OutboxEntry.failed_at.is_not(None))
            .order_by(OutboxEntry.failed_at.desc())
            .limit(200)
        )
        .all()
    )
    pending = (
        db_session().scalar(
            select(func.count())
            .select_from(OutboxEntry)
            .where(OutboxEntry.completed_at.is_(None), OutboxEntry.failed_at.is_(None))
        )
        or 0
    )
    actor = staff.actor()
    now = current_state().clock.now()
    municipalities = db_session().scalars(scoping.municipality_query(actor).order_by(Municipality.name)).all()
    ids = [municipality.id for municipality in municipalities]
    current = flood.hour_counts(db_session(), ids, now)
    previous = flood.hour_counts(db_session(), ids, now - flood.HOUR)
    rows = [FloodRow(m.name, current.intake[m.id], previous.intake[m.id]) for m in municipalities]
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    return render_template(
        "clearing/status.html",
        failed=failed,
        pending=pending,
        flood_rows=rows,
        flooded=current.flooded,
        flooded_names=[row.name for row in rows if row.current.marked],
        codes=(current.codes, previous.codes),
        hour_start=hour_start,
        previous_start=hour_start - flood.HOUR,
        per_municipality=actor.role == "network_operator",
    )
