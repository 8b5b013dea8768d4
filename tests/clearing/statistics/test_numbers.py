"""The numbers: a hand-made fixture, counted by hand, against statistics.refresh and counts().

Only cases with statistics consent and a confirmed assessment count; incident types and motives
come from the assessment (the reporter's own choice, "mass_mailing"/"unknown", never counts);
affected role and channel from the case; urgency from the assessment; partner kinds from sent
referrals (once per case); outcomes from completed referrals. Purging keeps the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearing.cases.maintenance import purge_retention
from clearing.statistics import service as statistics
from clearing.statistics.models import StatisticsLive, StatisticsRefresh, StatisticsRollup
from clearing.statistics.views import CODE_ORDER
from core.config import Config
from core.models import Municipality
from reporting.models import Case
from tests.factories import (
    Sent,
    Spec,
    add_case,
    add_person,
    add_town,
    close_long_ago,
    install_alliance,
    officer_staff,
    utc,
)

# The fixture, case by case. Comments give what each one adds (or why it does not count).
CASES: dict[str, Spec] = {
    "c1": Spec(
        utc(2024, 1, 10),
        incident_types=["threat"],
        motives=["racism"],
        affected_role="council_member",
        channel="public_space",
        urgency="high",
        referrals=[Sent("counselling", outcome="counselling_started")],
    ),
    "c2": Spec(
        utc(2024, 1, 20),
        incident_types=["threat", "insult_defamation"],
        motives=["racism", "misogyny"],
        affected_role="mayor",
        channel="email",
        referrals=[Sent("police"), Sent("counselling")],
    ),
    # The reporter said "assault"; the office confirmed an insult: only the insult counts.
    "c3": Spec(
        utc(2024, 2, 5),
        incident_types=["insult_defamation"],
        affected_role="admin_staff",
        channel="email",
        reporter_incident_types=["assault"],
    ),
    # Received in the last minutes of March, Berlin time (23:30 CEST, 21:30 UTC): counts in March and
    # Q1. Two counselling referrals count once; a referral still awaiting approval (employer) was
    # never sent and does not count.
    "c4": Spec(
        utc(2024, 3, 31, 21, 30),
        motives=["political_engagement"],
        channel="office",
        urgency="acute",
        referrals=[
            Sent("counselling", outcome="counselling_started"),
            Sent("counselling"),
            Sent("employer", sent=False),
        ],
    ),
    "c5": Spec(utc(2024, 2, 14), statistics=False, incident_types=["doxxing"], motives=["antiziganism"]),  # no consent
    "c6": Spec(utc(2024, 3, 2), assessed=False),  # not assessed
    "c7": Spec(utc(2024, 4, 15), referrals=[Sent("police", outcome="complaint_filed")]),
    # The reporter saw acute danger; the office assessed "low": urgency counts as low.
    "c8": Spec(
        utc(2024, 5, 1),
        incident_types=["hate_speech"],
        motives=["antisemitism"],
        channel="social_media",
        urgency="low",
        acute=True,
    ),
    "c9": Spec(utc(2024, 6, 30), affected_role="mayor"),
    "c10": Spec(
        utc(2024, 11, 11),
        affected_role="admin_staff",
        channel="email",
        urgency="high",
        referrals=[Sent("antidiscrimination", outcome="no_action")],
    ),
    "c11": Spec(utc(2024, 12, 24), statistics=False, assessed=False),  # neither
    "c12": Spec(utc(2023, 12, 31, 22, 0)),  # the year before
    "c13": Spec(utc(2025, 1, 2)),  # the year after
}

# Counted by hand from CASES: (month, dimension, code) -> count, for 2024.
EXPECTED_2024: dict[tuple[str, str, str], int] = {
    ("2024-01", "cases", "all"): 2, ("2024-02", "cases", "all"): 1, ("2024-03", "cases", "all"): 1,
    ("2024-04", "cases", "all"): 1, ("2024-05", "cases", "all"): 1, ("2024-06", "cases", "all"): 1,
    ("2024-11", "cases", "all"): 1,
    ("2024-01", "incident_type", "threat"): 2, ("2024-03", "incident_type", "threat"): 1, ("2024-04", "incident_type", "threat"): 1,
    ("2024-06", "incident_type", "threat"): 1, ("2024-11", "incident_type", "threat"): 1,
    ("2024-01", "incident_type", "insult_defamation"): 1, ("2024-02", "incident_type", "insult_defamation"): 1,
    ("2024-05", "incident_type", "hate_speech"): 1,
    ("2024-01", "motive", "racism"): 2, ("2024-02", "motive", "racism"): 1, ("2024-04", "motive", "racism"): 1,
    ("2024-06", "motive", "racism"): 1, ("2024-11", "motive", "racism"): 1,
    ("2024-01", "motive", "misogyny"): 1, ("2024-03", "motive", "political_engagement"): 1, ("2024-05", "motive", "antisemitism"): 1,
    ("2024-01", "affected_role", "council_member"): 1, ("2024-03", "affected_role", "council_member"): 1,
    ("2024-04", "affected_role", "council_member"): 1, ("2024-05", "affected_role", "council_member"): 1,
    ("2024-01", "affected_role", "mayor"): 1, ("2024-06", "affected_role", "mayor"): 1,
    ("2024-02", "affected_role", "admin_staff"): 1, ("2024-11", "affected_role", "admin_staff"): 1,
    ("2024-01", "channel", "public_space"): 1, ("2024-04", "channel", "public_space"): 1, ("2024-06", "channel", "public_space"): 1,
    ("2024-01", "channel", "email"): 1, ("2024-02", "channel", "email"): 1, ("2024-11", "channel", "email"): 1,
    ("2024-03", "channel", "office"): 1, ("2024-05", "channel", "social_media"): 1,
    ("2024-01", "urgency", "high"): 1, ("2024-11", "urgency", "high"): 1,
    ("2024-01", "urgency", "normal"): 1, ("2024-02", "urgency", "normal"): 1, ("2024-04", "urgency", "normal"): 1, ("2024-06", "urgency", "normal"): 1,
    ("2024-03", "urgency", "acute"): 1, ("2024-05", "urgency", "low"): 1,
    ("2024-01", "partner_kind", "counselling"): 2, ("2024-03", "partner_kind", "counselling"): 1,
    ("2024-01", "partner_kind", "police"): 1, ("2024-04", "partner_kind", "police"): 1,
    ("2024-11", "partner_kind", "antidiscrimination"): 1,
    ("2024-01", "outcome", "counselling_started"): 1, ("2024-03", "outcome", "counselling_started"): 1,
    ("2024-04", "outcome", "complaint_filed"): 1, ("2024-11", "outcome", "no_action"): 1,
}  # fmt: skip

# The same by quarter and by year (code -> {column: count}), by hand.
QUARTERS_2024 = {
    "cases": {"all": {"2024-Q1": 4, "2024-Q2": 3, "2024-Q4": 1}},
    "incident_type": {
        "threat": {"2024-Q1": 3, "2024-Q2": 2, "2024-Q4": 1},
        "insult_defamation": {"2024-Q1": 2},
        "hate_speech": {"2024-Q2": 1},
    },
    "motive": {
        "racism": {"2024-Q1": 3, "2024-Q2": 2, "2024-Q4": 1},
        "antisemitism": {"2024-Q2": 1},
        "misogyny": {"2024-Q1": 1},
        "political_engagement": {"2024-Q1": 1},
    },
    "affected_role": {
        "mayor": {"2024-Q1": 1, "2024-Q2": 1},
        "council_member": {"2024-Q1": 2, "2024-Q2": 2},
        "admin_staff": {"2024-Q1": 1, "2024-Q4": 1},
    },
    "channel": {
        "office": {"2024-Q1": 1},
        "public_space": {"2024-Q1": 1, "2024-Q2": 2},
        "email": {"2024-Q1": 2, "2024-Q4": 1},
        "social_media": {"2024-Q2": 1},
    },
    "urgency": {
        "acute": {"2024-Q1": 1},
        "high": {"2024-Q1": 1, "2024-Q4": 1},
        "normal": {"2024-Q1": 2, "2024-Q2": 2},
        "low": {"2024-Q2": 1},
    },
    "partner_kind": {
        "counselling": {"2024-Q1": 3},
        "antidiscrimination": {"2024-Q4": 1},
        "police": {"2024-Q1": 1, "2024-Q2": 1},
    },
    "outcome": {
        "counselling_started": {"2024-Q1": 2},
        "complaint_filed": {"2024-Q2": 1},
        "no_action": {"2024-Q4": 1},
    },
}
YEAR_2024 = {
    "cases": {"all": 8},
    "incident_type": {"threat": 6, "insult_defamation": 2, "hate_speech": 1},
    "motive": {"racism": 6},
}


@dataclass(frozen=True)
class Fixture:
    a_id: str
    b_id: str
    case_ids: dict[str, str]


@pytest.fixture
def fixture(session: Session, config: Config) -> Fixture:
    a = add_town(session, "astadt", "Astadt")
    b = add_town(session, "bstadt", "Bstadt")
    for town in (a, b):
        municipality = session.get(Municipality, town.id)
        assert municipality is not None
        municipality.statistics_threshold = 3
    session.commit()
    officer = add_person(session, config, a, "fachkraft-a")
    officer_b = add_person(session, config, b, "fachkraft-b")
    partners = install_alliance(session, a)
    staff = officer_staff(session, a, officer)
    ids = {name: add_case(session, config, a, staff, spec, partners) for name, spec in CASES.items()}
    # Bstadt's cases must never show up in Astadt's counts.
    staff_b = officer_staff(session, b, officer_b)
    for day in (3, 4, 5):
        add_case(
            session,
            config,
            b,
            staff_b,
            Spec(utc(2024, 1, day), incident_types=["doxxing"], motives=["antiziganism"], channel="home"),
        )
    return Fixture(a.id, b.id, ids)


def refreshed_counts(
    session: Session, municipality_ids: list[str], start: date, end: date
) -> dict[tuple[str, str, str], int]:
    statistics.refresh(session)
    session.commit()
    return statistics.counts(session, municipality_ids, start, end)


def grid(table: statistics.Table) -> dict[str, dict[str, int]]:
    """The raw (unsuppressed) inner cells of a table, zeros left out."""
    values = table.protected.values
    return {
        code: {column: values[i][j] for j, column in enumerate(table.periods) if values[i][j]}
        for i, code in enumerate(table.codes)
    }


def test_counts_by_month_match_the_hand_made_fixture(session: Session, fixture: Fixture) -> None:
    counted = refreshed_counts(session, [fixture.a_id], date(2024, 1, 1), date(2024, 12, 31))
    assert counted == EXPECTED_2024
    # Nothing of what the reporter chose, of the cases without consent or assessment, or of Bstadt.
    codes = {code for _m, _d, code in counted}
    assert not codes & {"mass_mailing", "unknown", "assault", "doxxing", "antiziganism", "home", "employer", "s185"}
    assert {d for _m, d, _c in counted} == set(statistics.DIMENSIONS)


def test_counts_outside_the_year_and_of_both_municipalities(session: Session, fixture: Fixture) -> None:
    assert (
        refreshed_counts(session, [fixture.a_id], date(2023, 1, 1), date(2023, 12, 31))[("2023-12", "cases", "all")]
        == 1
    )
    assert (
        statistics.counts(session, [fixture.a_id], date(2025, 1, 1), date(2025, 12, 31))[("2025-01", "cases", "all")]
        == 1
    )
    assert statistics.counts(session, [fixture.b_id], date(2024, 1, 1), date(2024, 12, 31)) == {
        ("2024-01", dimension, code): 3
        for dimension, code in [("cases", "all"), ("incident_type", "doxxing"), ("motive", "antiziganism"), ("affected_role", "council_member"),
                                ("channel", "home"), ("urgency", "normal")]
    }  # fmt: skip
    both = statistics.counts(session, [fixture.a_id, fixture.b_id], date(2024, 1, 1), date(2024, 1, 31))
    assert both[("2024-01", "cases", "all")] == 2 + 3
    assert statistics.counts(session, [], date(2024, 1, 1), date(2024, 12, 31)) == {}


def test_tables_by_quarter_and_year(session: Session, fixture: Fixture) -> None:
    data = refreshed_counts(session, [fixture.a_id], date(2024, 1, 1), date(2024, 12, 31))
    by_quarter = {t.dimension: t for t in statistics.tables(data, 3, CODE_ORDER)}
    assert list(by_quarter) == list(statistics.DIMENSIONS)
    for dimension, expected in QUARTERS_2024.items():
        table = by_quarter[dimension]
        assert table.periods == ["2024-Q1", "2024-Q2", "2024-Q4"]
        assert grid(table) == expected, dimension
        # Codes in the order of the code lists, not alphabetically.
        assert table.codes == [c for c in CODE_ORDER[dimension] if c in expected]
    # The year is the quarter tables' totals column.
    year = len(by_quarter["cases"].periods)
    for dimension, expected_year in YEAR_2024.items():
        table = by_quarter[dimension]
        totals = {code: table.protected.values[i][year] for i, code in enumerate(table.codes)}
        assert {code: n for code, n in totals.items() if code in expected_year} == expected_year
    # Exact numbers where they reach the threshold of 3: all cases in the year, and its grand total.
    cases = by_quarter["cases"].protected
    assert [cases.shown(0, year), cases.shown(1, year)] == ["8", "8"]
    threats = by_quarter["incident_type"]
    row = threats.codes.index("threat")
    assert threats.protected.values[row][year] == 6
    assert threats.protected.shown(row, year) in ("6", "•")
    small = threats.codes.index("hate_speech")
    assert threats.protected.shown(small, year) == "<3"
    # Months fall into their quarters at the quarters' edges.
    assert [statistics.quarter_of(m) for m in ("2024-01", "2024-03", "2024-04", "2024-09", "2024-10", "2024-12")] == [
        "2024-Q1", "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2024-Q4",
    ]  # fmt: skip


def test_refresh_is_repeatable_and_follows_changes(session: Session, fixture: Fixture) -> None:
    first = refreshed_counts(session, [fixture.a_id], date(2024, 1, 1), date(2024, 12, 31))
    assert refreshed_counts(session, [fixture.a_id], date(2024, 1, 1), date(2024, 12, 31)) == first
    stamp = session.get(StatisticsRefresh, fixture.a_id)
    assert stamp is not None
    # The reporter of c9 withdraws the statistics consent: the next refresh stops counting the case.
    case = session.get(Case, fixture.case_ids["c9"])
    assert case is not None
    case.consent_statistics = False
    session.commit()
    after = refreshed_counts(session, [fixture.a_id], date(2024, 1, 1), date(2024, 12, 31))
    assert ("2024-06", "cases", "all") not in after
    assert after[("2024-01", "cases", "all")] == 2


def test_purge_keeps_the_counts(session: Session, fixture: Fixture) -> None:
    years = (date(2023, 1, 1), date(2025, 12, 31))
    before = refreshed_counts(session, [fixture.a_id], *years)
    purged_names = ["c1", "c4", "c5", "c6", "c10", "c12"]  # counted and not counted, with and without referrals
    for name in purged_names:
        close_long_ago(session, fixture.case_ids[name], datetime(2024, 12, 31, tzinfo=UTC))
    now = datetime(2029, 1, 1, tzinfo=UTC)  # three years' retention ended at the start of 2026
    assert purge_retention(session, now).cases == len(purged_names)
    session.commit()
    session.expire_all()
    assert (
        session.scalar(
            select(func.count()).select_from(Case).where(Case.id.in_([fixture.case_ids[n] for n in purged_names]))
        )
        == 0
    )
    assert statistics.counts(session, [fixture.a_id], *years) == before
    # The rollup holds exactly what the purged, counted cases contributed (c5, c6 never counted).
    rollup = {
        (r.month, r.dimension, r.code): r.count
        for r in session.scalars(select(StatisticsRollup).where(StatisticsRollup.municipality_id == fixture.a_id))
    }
    assert rollup[("2024-03", "cases", "all")] == 1  # c4, received 23:30 Berlin time on 31 March: March, as live
    assert rollup[("2024-01", "cases", "all")] == 1  # c1
    assert rollup[("2023-12", "cases", "all")] == 1  # c12
    assert rollup[("2024-03", "partner_kind", "counselling")] == 1  # c4's two counselling referrals, once
    assert ("2024-03", "partner_kind", "employer") not in rollup  # never sent
    assert sum(n for (_m, d, _c), n in rollup.items() if d == "cases") == 4
    # A second purge finds nothing; a refresh after it still counts every case once.
    assert purge_retention(session, now).cases == 0
    assert refreshed_counts(session, [fixture.a_id], *years) == before
    live = session.scalar(
        select(func.sum(StatisticsLive.count)).where(
            StatisticsLive.municipality_id == fixture.a_id, StatisticsLive.dimension == "cases"
        )
    )
    assert live == 10 - 4 + 0  # 10 counted cases over the three years, 4 of them now in the rollup
