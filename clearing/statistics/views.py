"""Statistics pages: the municipality's dashboard, the network's, CSV export, the annual report."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from clearing.codes import URGENCIES
from clearing.partners import kinds as partner_kinds
from clearing.referrals.labels import OUTCOME_LABELS
from clearing.statistics import service as statistics
from clearing.statistics.chart import BarChart, bar_chart
from clearing.statistics.models import StatisticsRefresh
from clearing.statistics.suppression import network_threshold, threshold_for
from core import staff
from core.app import current_state
from core.models import Municipality
from core.web_session import db_session
from reporting import codes

bp = Blueprint("stats", __name__)

DIMENSION_LABELS = {
    "cases": _l("Fälle insgesamt"),
    "incident_type": _l("Art des Vorfalls"),
    "motive": _l("Motiv"),
    "affected_role": _l("Rolle der betroffenen Person"),
    "channel": _l("Ort oder Kanal"),
    "urgency": _l("Dringlichkeit"),
    "partner_kind": _l("Weitergeleitet an"),
    "outcome": _l("Ergebnis"),
}
CODE_LABELS = {
    "cases": {"all": _l("Fälle")},
    "incident_type": codes.INCIDENT_TYPES,
    "motive": codes.MOTIVES,
    "affected_role": codes.AFFECTED_ROLES,
    "channel": codes.CHANNELS,
    "urgency": URGENCIES,
    "partner_kind": partner_kinds.NAMES,
    "outcome": OUTCOME_LABELS,
}
CODE_ORDER = {name: list(labels) for name, labels in CODE_LABELS.items()}
# The tables' columns are quarters, their totals column the year (clearing.statistics.service.tables).
QUARTER_LABEL = _l("Quartal")
GROUP_LABELS = {"model": _l("Modellkommunen"), "platform": _l("Plattformkommunen")}


def _this_year() -> int:
    """The current year in Berlin (the app's clock)."""
    return current_state().clock.today().year


def _year() -> int:
    this_year = _this_year()
    try:
        year = int(request.args.get("jahr", this_year))
    except ValueError:
        year = this_year
    return min(max(year, 2000), this_year)


def _municipality() -> Municipality:
    actor = staff.actor()
    municipality = (
        db_session().get(Municipality, actor.account.municipality_id) if actor.account.municipality_id else None
    )
    if municipality is None:
        abort(404)
    return municipality


def _municipality_tables(municipality: Municipality, year: int) -> list[statistics.Table]:
    data = statistics.counts(db_session(), [municipality.id], date(year, 1, 1), date(year, 12, 31))
    return statistics.tables(data, threshold_for(municipality.statistics_threshold), CODE_ORDER)


def _charts(tables: list[statistics.Table]) -> dict[str, BarChart | None]:
    """A bar chart per dimension where it shows more than the table (see stats_chart.bar_chart)."""
    return {t.dimension: bar_chart(t, CODE_LABELS.get(t.dimension, {})) for t in tables}


def _context(**extra: object) -> dict[str, object]:
    return {"dimension_labels": DIMENSION_LABELS, "code_labels": CODE_LABELS, "quarter_label": QUARTER_LABEL, **extra}


@bp.get("/statistik")
@staff.require("officer", "coordinator")
def municipality_dashboard() -> str:
    """Counts of the own municipality, small cells suppressed."""
    municipality = _municipality()
    year = _year()
    refreshed = db_session().get(StatisticsRefresh, municipality.id)
    tables = _municipality_tables(municipality, year)
    return render_template(
        "stats/dashboard.html",
        **_context(
            tables=tables,
            charts=_charts(tables),
            year=year,
            municipality=municipality,
            threshold=threshold_for(municipality.statistics_threshold),
            refreshed=refreshed,
            years=range(_this_year(), 2019, -1),
        ),
    )


@bp.get("/statistik/jahresbericht")
@staff.require("officer", "coordinator")
def annual_report() -> str:
    """A printable annual report of the municipality."""
    municipality = _municipality()
    year = _year()
    tables = _municipality_tables(municipality, year)
    return render_template(
        "stats/annual.html",
        **_context(
            tables=tables,
            charts=_charts(tables),
            year=year,
            municipality=municipality,
            threshold=threshold_for(municipality.statistics_threshold),
        ),
    )


def _csv(tables: list[statistics.Table], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dimension", "code", "column", "value"])
    for table in tables:
        columns = [*table.periods, "total"]
        for i, code in enumerate([*table.codes, "total"]):
            for j, column in enumerate(columns):
                writer.writerow([table.dimension, code, column, table.protected.shown(i, j)])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response


@bp.get("/statistik.csv")
@staff.require("officer", "coordinator")
def municipality_csv() -> Response:
    municipality = _municipality()
    year = _year()
    return _csv(_municipality_tables(municipality, year), f"statistik-{municipality.slug}-{year}.csv")


def _network_tables(year: int) -> tuple[list[statistics.Table], list[statistics.Table], int, int]:
    members = db_session().scalars(select(Municipality).where(Municipality.statistics_opt_in.is_(True))).all()
    threshold = network_threshold(m.statistics_threshold for m in members)
    start, end = date(year, 1, 1), date(year, 12, 31)
    everything = statistics.counts(db_session(), [m.id for m in members], start, end)
    by_group = {
        group: statistics.counts(db_session(), [m.id for m in members if m.network_role == group], start, end)
        for group in ("model", "platform")
    }
    by_quarter = statistics.tables(everything, threshold, CODE_ORDER)
    # The groups' totals column is the quarters' totals column: protected as one.
    return (
        by_quarter,
        statistics.group_tables(by_group, threshold, CODE_ORDER, totals_from=by_quarter),
        len(members),
        threshold,
    )


@bp.get("/netzwerk/statistik")
@staff.require("network_operator")
def network_dashboard() -> str:
    """Across all municipalities that opted in; model against platform municipalities."""
    year = _year()
    tables, groups, members, threshold = _network_tables(year)
    # The groups' tables get no chart: their totals are the quarters' totals, charted above them.
    return render_template(
        "stats/network.html",
        **_context(
            tables=tables,
            charts=_charts(tables),
            groups=groups,
            members=members,
            threshold=threshold,
            year=year,
            group_labels=GROUP_LABELS,
            years=range(_this_year(), 2019, -1),
        ),
    )


@bp.get("/netzwerk/statistik.csv")
@staff.require("network_operator")
def network_csv() -> Response:
    year = _year()
    tables, groups, _members, _threshold = _network_tables(year)
    return _csv(tables + groups, f"statistik-netzwerk-{year}.csv")
