"""Statistics months, quarters and years are Berlin ones, on every database and after a purge.

A report received at 00:30 Berlin time on 1 January, 1 February or 1 April (23:30 or 22:30 UTC
the day before) counts in that month, quarter and year; one received at 23:30 the evening before
still counts in the old one. Each report carries an incident type of its own, so the counts show
where each one went.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from clearing.cases.maintenance import purge_retention
from clearing.statistics import service as statistics
from clearing.statistics.models import StatisticsRollup
from clearing.statistics.views import CODE_ORDER
from core.app import state
from core.clock import FixedClock, at_berlin, berlin_month, start_of_day
from core.config import Config
from core.db import UTCDateTime
from core.models import Municipality
from reporting.models import Case
from tests.factories import Spec, Town, add_case, add_person, add_town, close_long_ago, officer_staff
from tests.web import logged_in_client

# name -> (received, the incident type only this report has, its Berlin month)
REPORTS = {
    "1 January, 00:30": (at_berlin(2025, 1, 1, 0, 30), "threat", "2025-01"),
    "1 February, 00:30": (at_berlin(2025, 2, 1, 0, 30), "insult_defamation", "2025-02"),
    "1 April, 00:30": (at_berlin(2025, 4, 1, 0, 30), "hate_speech", "2025-04"),  # summer time: 22:30 UTC
    # The evenings before stay in the old month.
    "31 December, 23:30": (at_berlin(2024, 12, 31, 23, 30), "doxxing", "2024-12"),
    "31 January, 23:30": (at_berlin(2025, 1, 31, 23, 30), "stalking", "2025-01"),
    "31 March, 23:30": (at_berlin(2025, 3, 31, 23, 30), "property_damage", "2025-03"),
}
BOTH_YEARS = (date(2024, 1, 1), date(2025, 12, 31))


@pytest.fixture
def town(session: Session, config: Config) -> Town:
    town = add_town(session, "astadt", "Astadt")
    municipality = session.get(Municipality, town.id)
    assert municipality is not None
    municipality.statistics_threshold = 3
    session.commit()
    officer = add_person(session, config, town, "fachkraft-a")
    staff = officer_staff(session, town, officer)
    for received, marker, _month in REPORTS.values():
        add_case(session, config, town, staff, Spec(received, incident_types=[marker]))
    statistics.refresh(session)
    session.commit()
    return town


def _months_of(data: dict[tuple[str, str, str], int]) -> dict[str, list[str]]:
    """incident type -> the months it is counted in."""
    return {
        marker: sorted(m for (m, d, c), n in data.items() if d == "incident_type" and c == marker and n)
        for _received, marker, _month in REPORTS.values()
    }


def _grid(table: statistics.Table) -> dict[str, dict[str, int]]:
    values = table.protected.values
    return {
        code: {column: values[i][j] for j, column in enumerate(table.periods) if values[i][j]}
        for i, code in enumerate(table.codes)
    }


def test_a_report_counts_in_its_berlin_month(session: Session, town: Town) -> None:
    data = statistics.counts(session, [town.id], *BOTH_YEARS)
    assert _months_of(data) == {marker: [month] for _received, marker, month in REPORTS.values()}
    assert {(m, n) for (m, d, _c), n in data.items() if d == "cases"} == {
        ("2024-12", 1),
        ("2025-01", 2),
        ("2025-02", 1),
        ("2025-03", 1),
        ("2025-04", 1),
    }


def test_a_report_counts_in_its_berlin_quarter_and_year(session: Session, town: Town) -> None:
    # A year's counts (its Berlin days) in the tables the pages show: quarters, the year as total.
    this_year = statistics.counts(session, [town.id], date(2025, 1, 1), date(2025, 12, 31))
    tables = {t.dimension: t for t in statistics.tables(this_year, 3, CODE_ORDER)}
    assert _grid(tables["incident_type"]) == {
        "threat": {"2025-Q1": 1},
        "insult_defamation": {"2025-Q1": 1},
        "hate_speech": {"2025-Q2": 1},
        "stalking": {"2025-Q1": 1},
        "property_damage": {"2025-Q1": 1},
    }
    assert tables["cases"].periods == ["2025-Q1", "2025-Q2"]
    assert tables["cases"].protected.values[0] == (4, 1, 5)  # Q1, Q2 and the year
    # The year before holds only New Year's Eve.
    last_year = statistics.counts(session, [town.id], date(2024, 1, 1), date(2024, 12, 31))
    assert {(m, d, c) for (m, d, c) in last_year if d == "incident_type"} == {("2024-12", "incident_type", "doxxing")}
    before = {t.dimension: t for t in statistics.tables(last_year, 3, CODE_ORDER)}
    assert before["cases"].periods == ["2024-Q4"]
    assert before["cases"].protected.values[0] == (1, 1)


def test_purged_reports_stay_in_their_berlin_month(session: Session, town: Town) -> None:
    before = statistics.counts(session, [town.id], *BOTH_YEARS)
    for case_id in session.scalars(select(Case.id).where(Case.municipality_id == town.id)):
        close_long_ago(session, case_id, datetime(2025, 5, 1, tzinfo=UTC))
    assert purge_retention(session, datetime(2030, 1, 1, tzinfo=UTC)).cases == len(REPORTS)
    session.commit()
    rollup = {
        (r.month, r.code)
        for r in session.scalars(select(StatisticsRollup).where(StatisticsRollup.dimension == "incident_type"))
    }
    assert rollup == {(month, marker) for _received, marker, month in REPORTS.values()}
    statistics.refresh(session)
    session.commit()
    assert statistics.counts(session, [town.id], *BOTH_YEARS) == before


def test_the_database_finds_the_berlin_month_around_every_month_start(session: Session) -> None:
    # 2000-2050, each month's first Berlin midnight and an hour and a second either side of it:
    # the SQL of the live counts (PostgreSQL's time zone, SQLite's fixed offsets) agrees with zoneinfo.
    instants = []
    for year in range(2000, 2051):
        for month in range(1, 13):
            start = start_of_day(date(year, month, 1))
            for offset in (-3661, -3599, -1, 0, 3599, 3661):
                instants.append(start + timedelta(seconds=offset))
    found: list[str] = []
    for chunk in range(0, len(instants), 120):
        part = instants[chunk : chunk + 120]
        columns = [statistics.berlin_month_sql(session, literal(i, UTCDateTime())) for i in part]
        found.extend(session.execute(select(*columns)).one())
    wrong = [(i, f) for i, f in zip(instants, found, strict=True) if f != berlin_month(i)]
    assert wrong == []


def test_the_dashboard_shows_the_berlin_year(app: Flask, session: Session, config: Config, town: Town) -> None:
    officer = add_person(session, config, town, "fachkraft-zwei")
    client = logged_in_client(app, officer)
    state(app).clock = FixedClock(at_berlin(2025, 1, 1, 0, 30))  # 23:30 UTC on New Year's Eve
    page = client.get("/statistik").get_data(as_text=True)
    assert "Statistik Astadt 2025" in page
    assert '<option value="2025" selected>' in page
    assert '<option value="2026"' not in page
