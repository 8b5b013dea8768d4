"""Statistics: counts from SQL aggregation over the clear metadata, never from decrypting a case.

Only cases whose reporter consented to statistics and which have a confirmed assessment count;
codes come from the assessment, not from the reporter. The job `refresh` recomputes the live
counts per municipality with INSERT ... SELECT; purged cases live on in the rollup table. The
dashboards read the union of both and protect small cells (clearing.statistics.suppression).
Months, quarters and years are Berlin ones: a report received at 00:30 Berlin time on 1 April
(22:30 UTC on 31 March) counts in April, the second quarter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import CTE, CompoundSelect, Select, case, delete, distinct, func, insert, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from clearing.cases.models import Assessment, AssessmentCode
from clearing.partners.models import PartnerOrganisation
from clearing.referrals.models import Referral
from clearing.statistics.models import StatisticsLive, StatisticsRefresh, StatisticsRollup
from clearing.statistics.suppression import Position, ProtectedTable, protect
from core.clock import BERLIN
from core.db import utcnow
from core.models import Municipality
from reporting.models import Case

DIMENSIONS = ("cases", "incident_type", "motive", "affected_role", "channel", "urgency", "partner_kind", "outcome")


def berlin_month_sql(session: Session, instant: SQLColumnExpression[datetime]) -> ColumnElement[str]:
    """The Berlin month ("2024-04") of a UTC instant column, computed by the database.

    The rollup of purged cases uses core.clock.berlin_month for the same key. PostgreSQL converts
    with its time zone database. SQLite has none, and needs none for a month: at the start of
    every month Berlin's offset is the same each year, +2 hours (summer time) for April to
    October and +1 hour for November to March, because the clocks change on the last Sundays of
    March and October. So the month of the instant + 2 hours is the Berlin month when it falls in
    April..October, and otherwise the month of the instant + 1 hour is. A test compares both
    expressions with zoneinfo around every month start of 2000-2050; a change of the rules in the
    time zone database would fail it.
    """
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(BERLIN.key, instant), "YYYY-MM")
    summer = func.strftime("%Y-%m", instant, "+2 hours")
    return case(
        (func.strftime("%m", instant, "+2 hours").between("04", "10"), summer),
        else_=func.strftime("%Y-%m", instant, "+1 hours"),
    )


def _counted(session: Session, municipality_id: str | None) -> CTE:
    """The counted cases (consented, assessed), one row each with what they are counted by.

    A common table expression that every dimension reads: the case rows are scanned once per
    refresh, not once per dimension (nor once per municipality).
    """
    query = (
        select(
            Case.id.label("case_id"),
            Case.municipality_id,
            berlin_month_sql(session, Case.received_at).label("month"),
            Case.affected_role,
            Case.channel,
            Assessment.urgency,
        )
        .join(Assessment, Assessment.case_id == Case.id)
        .where(Case.consent_statistics.is_(True))
    )
    if municipality_id is not None:
        query = query.where(Case.municipality_id == municipality_id)
    return query.cte("counted")


def _queries(session: Session, municipality_id: str | None = None) -> CompoundSelect[*tuple[Any, ...]]:
    """(municipality_id, month, dimension, code, count) of one municipality, or of all at once."""
    counted = _counted(session, municipality_id)
    keys = (counted.c.municipality_id, counted.c.month)
    parts: list[Select[*tuple[Any, ...]]] = [
        select(
            *keys, literal("cases").label("dimension"), literal("all").label("code"), func.count().label("count")
        ).group_by(*keys)
    ]
    for dimension in ("affected_role", "channel", "urgency"):
        column = counted.c[dimension]
        parts.append(select(*keys, literal(dimension), column, func.count()).group_by(*keys, column))
    parts.append(
        select(*keys, AssessmentCode.kind, AssessmentCode.code, func.count())
        .join(AssessmentCode, AssessmentCode.case_id == counted.c.case_id)
        .where(AssessmentCode.kind.in_(("incident_type", "motive")))
        .group_by(*keys, AssessmentCode.kind, AssessmentCode.code)
    )
    sent = select(*keys).join(Referral, (Referral.case_id == counted.c.case_id) & Referral.sent_at.is_not(None))
    parts.append(
        sent.join(PartnerOrganisation, PartnerOrganisation.id == Referral.partner_id)
        .add_columns(literal("partner_kind"), PartnerOrganisation.kind, func.count(distinct(counted.c.case_id)))
        .group_by(*keys, PartnerOrganisation.kind)
    )
    parts.append(
        sent.where(Referral.outcome.is_not(None))
        .add_columns(literal("outcome"), Referral.outcome, func.count(distinct(counted.c.case_id)))
        .group_by(*keys, Referral.outcome)
    )
    return union_all(*parts)


def refresh(session: Session, municipality_id: str | None = None) -> int:
    """Recompute the live counts (one municipality or all) in the caller's transaction.

    All municipalities are counted by one INSERT ... SELECT (it groups by municipality): one pass
    over the case rows, however many municipalities there are.
    """
    ids = [municipality_id] if municipality_id else list(session.scalars(select(Municipality.id)))
    stale = delete(StatisticsLive)
    if municipality_id:
        stale = stale.where(StatisticsLive.municipality_id == municipality_id)
    session.execute(stale)
    session.execute(
        insert(StatisticsLive).from_select(
            ["municipality_id", "month", "dimension", "code", "count"], _queries(session, municipality_id)
        )
    )
    for m_id in ids:
        stamp = session.get(StatisticsRefresh, m_id)
        if stamp is None:
            session.add(StatisticsRefresh(municipality_id=m_id, refreshed_at=utcnow()))
        else:
            stamp.refreshed_at = utcnow()
    session.flush()
    return len(ids)


def quarter_of(month: str) -> str:
    """The quarter of a month: 2024-05 is 2024-Q2."""
    year, mon = month.split("-")
    return f"{year}-Q{(int(mon) - 1) // 3 + 1}"


@dataclass(frozen=True)
class Table:
    dimension: str
    periods: list[str]
    codes: list[str]
    protected: ProtectedTable


def counts(session: Session, municipality_ids: list[str], start: date, end: date) -> dict[tuple[str, str, str], int]:
    """(month, dimension, code) -> count over live and purged cases of the given municipalities.

    `start` and `end` are Berlin days; the months they fall in are counted whole.
    """
    if not municipality_ids:
        return {}
    lo, hi = start.strftime("%Y-%m"), end.strftime("%Y-%m")
    sources = [
        select(t.month, t.dimension, t.code, t.count).where(
            t.municipality_id.in_(municipality_ids), t.month >= lo, t.month <= hi
        )
        for t in (StatisticsLive, StatisticsRollup)
    ]
    both = union_all(*sources).subquery()
    rows = session.execute(
        select(both.c.month, both.c.dimension, both.c.code, func.sum(both.c.count)).group_by(
            both.c.month, both.c.dimension, both.c.code
        )
    )
    return {(m, d, c): int(n) for m, d, c, n in rows}


# Dimensions in which every counted case has exactly one code: their column totals are the case
# counts, so these tables and "cases" share numbers and are protected together.
ONE_CODE_PER_CASE = ("cases", "affected_role", "channel", "urgency")


def _by_dimension(data: dict[tuple[str, str, str], int]) -> dict[str, list[tuple[str, str, int]]]:
    """One pass over the counts: (key, code, count) rows per dimension."""
    result: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for (key, dim, code), n in data.items():
        result[dim].append((key, code, n))
    return result


def _grid(
    rows: list[tuple[str, str, int]], dimension: str, column_of: Callable[[str], str], code_order: dict[str, list[str]]
) -> tuple[list[str], dict[str, dict[str, int]]]:
    grid: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    columns: dict[str, str] = {}  # column_of once per distinct key, not once per row
    for key, code, n in rows:
        column = columns.get(key)
        if column is None:
            column = columns[key] = column_of(key)
        grid[code][column] += n
    known = code_order.get(dimension, [])
    return [c for c in known if c in grid] + sorted(c for c in grid if c not in known), grid


def tables(data: dict[tuple[str, str, str], int], threshold: int, code_order: dict[str, list[str]]) -> list[Table]:
    """One table per dimension: codes as rows, quarters as columns (the totals column is the year),
    all protected together.

    Linked numbers: the totals row of every one-code-per-case table is the case count per quarter.
    Quarters are the one granularity shown: months and quarters of the same year side by side are
    sums of one another, and their differences would reveal suppressed cells.
    """
    periods = sorted({quarter_of(m) for m in {month for month, _d, _c in data}})
    if not periods:
        return []
    shapes = []
    by_dimension = _by_dimension(data)
    for dimension in DIMENSIONS:
        codes, grid = _grid(by_dimension.get(dimension, []), dimension, quarter_of, code_order)
        if codes:
            shapes.append((dimension, codes, [[grid[c][p] for p in periods] for c in codes]))
    return _protect_page(shapes, periods, threshold)


def _protect_page(
    shapes: list[tuple[str, list[str], list[list[int]]]],
    columns: list[str],
    threshold: int,
    totals_from: list[Table] | None = None,
) -> list[Table]:
    """Protect a page's tables so that a number shown twice is shown or hidden the same way twice.

    - The totals row of each one-code-per-case table is the case count per column: those tables
      follow the "cases" table, which is protected first.
    - With `totals_from` (the same page's tables of the same dimensions), the totals column holds
      the numbers those tables show in theirs, and follows them.
    A followed cell is hidden here if it is hidden there, and may not be hidden here otherwise.
    """
    pinned = {t.dimension: t for t in totals_from or []}
    order = sorted(shapes, key=lambda shape: shape[0] != "cases")
    protected: dict[str, ProtectedTable] = {}
    for dimension, codes, matrix in order:
        forced: set[Position] = set()
        shared: set[Position] = set()
        lead = protected.get("cases")
        if dimension in ONE_CODE_PER_CASE and dimension != "cases" and lead is not None:
            for j in range(len(columns) + 1):
                shared.add((len(codes), j))
                if lead.hidden(0, j):
                    forced.add((len(codes), j))
        other = pinned.get(dimension)
        if other is not None:
            there = {code: i for i, code in enumerate(other.codes)}
            rows = [(i, there.get(code)) for i, code in enumerate(codes)] + [(len(codes), len(other.codes))]
            for i, k in rows:
                shared.add((i, len(columns)))
                if k is None or other.protected.hidden(k, len(other.periods)):
                    forced.add((i, len(columns)))
        protected[dimension] = protect(matrix, threshold, forced=frozenset(forced), frozen=frozenset(shared - forced))
    return [Table(dimension, columns, codes, protected[dimension]) for dimension, codes, _m in shapes]


def group_tables(
    data_by_group: dict[str, dict[tuple[str, str, str], int]],
    threshold: int,
    code_order: dict[str, list[str]],
    totals_from: list[Table] | None = None,
) -> list[Table]:
    """Network view: per dimension, codes as rows and groups (model, platform) as columns; the
    totals column is all participating municipalities. Protected like a municipality's page."""
    groups = sorted(data_by_group)
    shapes = []
    for dimension in DIMENSIONS:
        merged: dict[tuple[str, str, str], int] = {}
        for group, data in data_by_group.items():
            for (_month, dim, code), n in data.items():
                if dim == dimension:
                    merged[(group, dim, code)] = merged.get((group, dim, code), 0) + n
        codes, grid = _grid(_by_dimension(merged).get(dimension, []), dimension, lambda group: group, code_order)
        if codes:
            shapes.append((dimension, codes, [[grid[c][g] for g in groups] for c in codes]))
    return _protect_page(shapes, groups, threshold, totals_from)
