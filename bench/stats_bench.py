"""Measures the statistics dashboards over 1 000 000 cases in PostgreSQL against the bare aggregate query.

Two dashboards, each judged against the issue's target (p95 under 1 s and at most 1.5x the bare
query) and each also fetched as a page:
- municipality: clearing.statistics.views._municipality_tables for the largest municipality, this year,
  by quarter (what the page shows): the municipality row, statistics.counts (one SELECT ... GROUP BY
  over the union of statistics_live and statistics_rollup) and statistics.tables (one protected
  table per dimension, small cells and their complements suppressed). "Bare" is that one aggregate
  statement as hand SQL through text(), rows fetched, nothing built from them. The smallest
  municipality (small cells everywhere: the most suppression work) is measured alike and reported
  as INFO. Months are not measured: the page shows quarters only (clearing.statistics.service.tables).
- network: _network_tables for this year: the opted-in municipalities, counts for all of them,
  for the model and for the platform municipalities, the quarter tables and the group tables, all
  protected. "Bare" is the three aggregate statements by hand.
The pages are GET /statistik and GET /netzwerk/statistik through the Flask test client, logged in
(password, then TOTP) as the coordinator of that municipality and as the network operator: the
staff session, the same work and the template with its SVG charts. Their time must be under 1 s
too (PASS/FAIL); their ratio to the bare query is INFO, rendering having no counterpart there.
One run = what one request does: a new Session (pool checkout with pre-ping, BEGIN), the work,
close. The variants run interleaved in rotating order, so load from other processes hits all
alike; p50/p95 are nearest-rank over --runs runs after a warm-up; ratio = p95 / bare p95.

For context, not judged: refresh() of every municipality (the hourly job: one INSERT ... SELECT over
the case rows), refresh() of the largest municipality alone (what the retention purge runs per
municipality), and refresh()'s SELECT without the INSERT, for all municipalities and for the
largest: what a dashboard would pay if it aggregated the case rows itself instead of the rollups.

The data (seeded in SQL on the server, INSERT ... SELECT over generate_series; reproducible, every
draw a hash of the row number): --cases cases over the last three years, more towards now, in
arrival order so that municipalities interleave on the heap as in production; 60 municipalities
(10 model, 50 platform; 52 opted in; thresholds mostly the policy's 5, some 3, 7 or 10) of Zipf-like sizes, the
largest a model municipality with about 14 % of the cases; code distributions as in the inbox
bench; 80 % consented to statistics; 70 % assessed, with 1-3 incident types, 1-3 motives and 1-3
offences; about 20 % with a referral sent to one or two of the municipality's seven partner
organisations, about half of those completed with an outcome. The statistics never decrypt, so
the ciphertext columns hold dummy bytes of realistic length (report ~600-1500 bytes, sealed keys
82 bytes, notes and packets a few hundred): the heap is as wide as a real one, nothing is
encrypted. case_code (the reporter's codes) stays empty: the statistics count the assessment's.
The migrations' plain indexes on the four tables are dropped during the load and built again
from their own definitions (same transaction). After the first refresh, statistics_rollup receives what a retention purge would have folded in:
the live counts shifted back three years (purged cases of earlier years, at 70 %) and small counts
for about a fifth of the recent cells (early deletions); then VACUUM ANALYZE, as autovacuum would.
Each timed refresh is followed by VACUUM ANALYZE statistics_live, as autovacuum would do too.

Run from the project root: .venv/bin/python bench/stats_bench.py [--cases N] [--reuse] [--runs N]
The database (default komma_bench_stats on 127.0.0.1, created if absent) is wiped and seeded;
its name must contain "bench". --reuse keeps it if it already holds the cases.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

# Run as a script, Python puts bench/ on the path, not the checkout that holds the project.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import Timings, bench_config, migrated_database, ms
from clearing.cases.models import Assessment, AssessmentCode
from clearing.partners.models import PartnerOrganisation
from clearing.referrals.models import Referral
from clearing.statistics import service as statistics
from clearing.statistics import views as stats_views
from clearing.statistics.models import StatisticsLive, StatisticsRollup
from core import create_app
from core.accounts import create_account, totp_secret_with_password
from core.db import make_engine, make_session_factory
from core.migrate import upgrade_database
from core.model_registry import import_all_models
from core.models import Account, Municipality
from core.tenancy import create_municipality
from core.web_session import db_session
from crypto import TEST_ARGON2
from reporting.models import Case

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/komma_bench_stats"
TARGET_SECONDS = 1.0
TARGET_RATIO = 1.5
WARMUP = 3
YEARS = 3

MUNICIPALITIES = 60
MODEL_EVERY = 6  # municipalities 0, 6, 12, ... (by size) are model municipalities: 10 of 60
ZIPF = 0.8
# Coordinators of the largest and of the smallest municipality, and the network operator.
LARGE_LOGIN, SMALL_LOGIN = "bench.koordination.gross", "bench.koordination.klein"
OPERATOR_LOGIN = "bench.netzwerk"
# Bench-only accounts on a bench-only database: fixed, so that --reuse can log in again.
BENCH_PASSWORD = "bench-stats-password"  # noqa: S105
CSRF_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')

# Shares of the codes, as in the inbox bench (the assessment's codes follow the reporter's).
INCIDENT_WEIGHTS = {
    "insult_defamation": 30,
    "hate_speech": 20,
    "threat": 18,
    "mass_mailing": 6,
    "doxxing": 6,
    "stalking": 5,
    "property_damage": 5,
    "discrimination": 4,
    "assault": 3,
    "extreme_violence": 1,
    "other": 2,
}
MOTIVE_WEIGHTS = {
    "political_engagement": 40,
    "unknown": 15,
    "racism": 8,
    "misogyny": 8,
    "xenophobia": 6,
    "antisemitism": 5,
    "lgbtiq_hostility": 4,
    "anti_muslim": 3,
    "social_status": 3,
    "antiziganism": 2,
    "anti_black": 2,
    "disability_hostility": 2,
    "other": 2,
}
OFFENCE_WEIGHTS = {
    "s185": 30,
    "s186": 8,
    "s187": 5,
    "s188": 15,
    "s241": 15,
    "s240": 6,
    "s130": 8,
    "s126a": 4,
    "s238": 4,
    "s303": 3,
    "s223": 2,
}
AFFECTED_ROLES = {
    "council_member": 35,
    "mayor": 15,
    "admin_staff": 20,
    "frontline_staff": 15,
    "volunteer_official": 8,
    "family_member": 4,
    "other": 3,
}
CHANNELS = {
    "social_media": 30,
    "email": 18,
    "phone": 8,
    "letter": 8,
    "office": 12,
    "council_session": 6,
    "public_event": 5,
    "public_space": 6,
    "home": 4,
    "other_online": 2,
    "other": 1,
}
PERPETRATORS = {
    "unknown": 40,
    "citizen": 35,
    "organised_group": 8,
    "colleague": 5,
    "council_member": 6,
    "superior": 3,
    "other": 3,
}
URGENCY_ASSESSED = {"acute": 3, "high": 17, "normal": 55, "low": 25}
PHENOMENA = {"right": 55, "left": 10, "foreign_ideology": 5, "religious_ideology": 5, "other": 25}
# Each municipality's alliance: one partner organisation of each kind; referrals pick by weight.
PARTNER_KINDS = {
    "counselling": 35,
    "police": 25,
    "antidiscrimination": 12,
    "psychosocial": 10,
    "employer": 8,
    "legal_office": 6,
    "staff_council": 4,
}
OUTCOMES = {"counselling_started": 45, "complaint_filed": 20, "measures_taken": 20, "no_action": 15}
# Per number of codes: the share of assessments with 1, 2 or 3 of that kind.
CODE_COUNTS = {"incident_type": (55, 35, 10), "motive": (70, 25, 5), "offence": (60, 30, 10)}
CODE_WEIGHTS = {"incident_type": INCIDENT_WEIGHTS, "motive": MOTIVE_WEIGHTS, "offence": OFFENCE_WEIGHTS}


# The data -----------------------------------------------------------------------------------


def uniform(stream: int | str, row: str = "g") -> str:
    """SQL for a uniform number in [0, 1): a hash of the row number and a stream, the same in every run and plan."""
    return f"((hashint8extended({row}, {stream}) & 4503599627370495)::float8 / 4503599627370496.0)"


def choice(weights: dict[str, float], draw: str) -> str:
    """SQL CASE: a code drawn by weight with the uniform number `draw`."""
    total = sum(weights.values())
    items = list(weights.items())
    bounds, branches = 0.0, []
    for code, weight in items[:-1]:
        bounds += weight / total
        branches.append(f"WHEN {draw} < {bounds:.6f} THEN '{code}'")
    return f"(CASE {' '.join(branches)} ELSE '{items[-1][0]}' END)"


def how_many(shares: tuple[int, int, int], draw: str) -> str:
    total = sum(shares)
    return f"(CASE WHEN {draw} < {shares[0] / total:.6f} THEN 1 WHEN {draw} < {(shares[0] + shares[1]) / total:.6f} THEN 2 ELSE 3 END)"


def dummy_bytes(seed: str, length: str) -> str:
    """SQL for `length` bytes that stand in for ciphertext (never read: the statistics do not decrypt)."""
    return f"substring(decode(repeat(md5({seed}), 100), 'hex') FROM 1 FOR ({length})::int)"


@dataclass(frozen=True)
class Town:
    number: int
    slug: str
    share: float
    role: str
    opt_in: bool
    threshold: int | None  # None: the policy (clearing.statistics.suppression.THRESHOLD)


def towns() -> list[Town]:
    """60 municipalities by size, largest first: Zipf-like shares, every sixth a model municipality."""
    weights = [(n + 1) ** -ZIPF for n in range(MUNICIPALITIES)]
    total = sum(weights)
    result = []
    platform = 0
    for n, weight in enumerate(weights):
        model = n % MODEL_EVERY == 0
        platform += not model
        # Every model municipality publishes to the network; 8 of the 50 platform ones do not.
        opt_in = model or platform % 6 != 0
        threshold = {7: 3, 13: 7, 29: 10, 41: 7}.get(n)
        kind = "model" if model else "platform"
        result.append(
            Town(n, f"{'modell' if model else 'plattform'}-{n + 1:02d}", weight / total, kind, opt_in, threshold)
        )
    return result


SEED_CASE = """
CREATE TEMP TABLE seed_case ON COMMIT DROP AS
SELECT s.g, md5('bench-case-' || s.g) AS id, t.id AS municipality_id,
       CAST(:start AS timestamptz) + make_interval(secs => :span * sqrt((s.g - s.jitter) / :cases)) AS received_at,
       s.r_assess < 0.70 AS assessed,
       s.r_consent < 0.80 AS consent_statistics,
       CASE WHEN s.r_assess < 0.70 AND s.r_refer < 0.20 / 0.70 THEN (CASE WHEN s.r_second < 0.2 THEN 2 ELSE 1 END) ELSE 0 END
           AS referrals,
       CASE WHEN s.r_assess < 0.70 THEN {urgency} ELSE (CASE WHEN s.r_urgency < 0.04 THEN 'acute' ELSE 'normal' END) END
           AS urgency
FROM (
    SELECT g, {town} AS r_town, {jitter} AS jitter, {assess} AS r_assess, {consent} AS r_consent,
           {refer} AS r_refer, {second} AS r_second, {urgency_draw} AS r_urgency
    FROM generate_series(1, CAST(:cases AS bigint)) g
    OFFSET 0
) s
JOIN seed_town t ON s.r_town >= t.lo AND s.r_town < t.hi
"""

INSERT_CASES = """
INSERT INTO report_case (
    id, municipality_id, reference, received_at, status, status_changed_at, urgency, affected_role, channel,
    incident_month, perpetrator_context, consent_counselling, consent_police, consent_employer, consent_prosecutor,
    consent_statistics, consent_no_forwarding, acknowledged_at, sealed_case_key, report_ciphertext)
SELECT id, municipality_id, 'K-' || to_char(g, 'FM00000000'), received_at,
       CASE WHEN assessed THEN
                CASE WHEN age < 20 THEN 'assessed'
                     WHEN referrals > 0 AND age < 120 THEN 'awaiting_feedback'
                     WHEN {r1} < 0.9 THEN 'closed' ELSE 'assessed' END
            ELSE
                CASE WHEN age < 7 THEN 'received' WHEN age < 40 THEN 'in_review'
                     WHEN {r1} < 0.6 THEN 'withdrawn' ELSE 'closed' END
       END,
       received_at + (CAST(:now AS timestamptz) - received_at) * {r2} * 0.5,
       urgency, {affected}, {channel},
       to_char(received_at - make_interval(days => floor(-ln(1 - {r3}) * 10)::int), 'YYYY-MM'),
       {perpetrator},
       {r4} < 0.6, {r5} < 0.3, {r6} < 0.2, {r7} < 0.15, consent_statistics, {r8} < 0.05,
       CASE WHEN age > 3 THEN received_at + make_interval(hours => 2 + floor({r9} * 100)::int) END,
       {sealed_key}, {report}
FROM (SELECT *, EXTRACT(EPOCH FROM CAST(:now AS timestamptz) - received_at) / 86400 AS age FROM seed_case) c
"""

INSERT_ASSESSMENTS = """
INSERT INTO assessment (
    case_id, urgency, escalation_level, phenomenon_area, employer_duty, case_conference, notes_ciphertext, assessed_at)
SELECT id, urgency, CASE WHEN {r1} < 0.6 THEN 1 WHEN {r1} < 0.93 THEN 2 ELSE 3 END, {phenomenon},
       {r2} < 0.1, {r3} < 0.05, {notes},
       least(CAST(:now AS timestamptz), received_at + make_interval(hours => 2 + floor({r4} * 200)::int))
FROM seed_case WHERE assessed
"""

INSERT_CODES = """
INSERT INTO assessment_code (case_id, kind, code)
SELECT id, kind, CASE kind {codes} END
FROM seed_case
CROSS JOIN (VALUES {kinds}) AS kinds(kind)
CROSS JOIN generate_series(1, 3) j
WHERE assessed AND j <= CASE kind {counts} END
ON CONFLICT DO NOTHING
"""

INSERT_REFERRALS = """
INSERT INTO referral (
    id, case_id, partner_id, agreement_version, rule, required_consent, override, four_eyes, state, outcome,
    created_at, sent_at, opened_at, state_changed_at, due_at, key_generation,
    sealed_key_partner, sealed_key_office, packet_ciphertext)
SELECT md5('bench-referral-' || r.g || '-' || r.j), r.id, p.id, 1, 'regel-' || p.kind, 'counselling', false, false,
       r.state, CASE WHEN r.state = 'completed' THEN {outcome} END,
       r.created_at, CASE WHEN r.sent THEN r.created_at END,
       CASE WHEN r.sent AND r.state <> 'sent' THEN r.created_at + interval '1 day' END,
       least(CAST(:now AS timestamptz), r.created_at + make_interval(days => 3 + floor({r1} * 60)::int)),
       CASE WHEN r.sent THEN r.created_at + interval '14 days' END, 1,
       CASE WHEN r.sent THEN {key_partner} END, CASE WHEN r.sent THEN {key_office} END,
       CASE WHEN r.sent THEN {packet} END
FROM (
    SELECT g, j, id, municipality_id, age, first_kind, second_kind,
           created_at, sent, CASE WHEN NOT sent THEN (CASE WHEN {r2} < 0.5 THEN 'awaiting_approval' ELSE 'cancelled' END)
                                  WHEN age < 14 THEN 'sent'
                                  WHEN age < 60 THEN (CASE WHEN {r2} < 0.3 THEN 'received' WHEN {r2} < 0.6 THEN 'accepted'
                                                            WHEN {r2} < 0.9 THEN 'in_progress' ELSE 'declined' END)
                                  ELSE (CASE WHEN {r2} < 0.55 THEN 'completed' WHEN {r2} < 0.7 THEN 'declined'
                                             ELSE 'in_progress' END) END AS state
    FROM (
        SELECT g, j, id, municipality_id, {first_kind} AS first_kind, {second_kind} AS second_kind,
               least(CAST(:now AS timestamptz), received_at + make_interval(days => 1 + floor({r3} * 10)::int)) AS created_at,
               {r4} < 0.95 AS sent,
               floor(EXTRACT(EPOCH FROM CAST(:now AS timestamptz) - received_at) / 86400)::int AS age
        FROM seed_case CROSS JOIN generate_series(1, 2) j
        WHERE j <= referrals
        OFFSET 0
    ) picked
    WHERE j = 1 OR second_kind <> first_kind
) r
JOIN partner_organisation p ON p.municipality_id = r.municipality_id
 AND p.kind = CASE WHEN r.j = 1 THEN r.first_kind ELSE r.second_kind END
"""

# What a retention purge would have folded into the rollup: earlier years (the live counts three
# years back, at 70 %) and, in a fifth of the recent cells, early deletions.
ROLLUP_HISTORY = """
INSERT INTO statistics_rollup (municipality_id, month, dimension, code, count)
SELECT municipality_id, to_char(to_date(month, 'YYYY-MM') - interval '36 months', 'YYYY-MM'), dimension, code,
       greatest(1, round(count * 0.7))
FROM statistics_live
"""
SECONDARY_INDEXES = text(
    """
    SELECT i.indexname, i.indexdef FROM pg_indexes i
    WHERE i.schemaname = current_schema() AND i.tablename IN ('report_case', 'assessment', 'assessment_code', 'referral')
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
    """
)
ROLLUP_DELETIONS = """
INSERT INTO statistics_rollup (municipality_id, month, dimension, code, count)
SELECT municipality_id, month, dimension, code, 1 + count / 100
FROM statistics_live
WHERE (hashtext(municipality_id || month || dimension || code) & 1023) < 205
ON CONFLICT (municipality_id, month, dimension, code) DO UPDATE SET count = statistics_rollup.count + excluded.count
"""


def seed(url: str, cases: int) -> None:
    started = time.perf_counter()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    plan = towns()
    with tempfile.TemporaryDirectory() as instance:
        config = bench_config(url, Path(instance), argon2=TEST_ARGON2)
        # The seeding creates and seals to bound keys: its sessions carry the binding key.
        factory = make_session_factory(engine, config.audit_key, key_binding_key=config.key_binding_key)
        with factory() as session, session.begin():
            ids = []
            for town in plan:
                created = create_municipality(
                    session,
                    town.slug,
                    f"{'Modellkommune' if town.role == 'model' else 'Plattformkommune'} {town.number + 1:02d}",
                )
                m = created.municipality
                m.statistics_opt_in, m.network_role, m.statistics_threshold = town.opt_in, town.role, town.threshold
                for kind in PARTNER_KINDS:
                    session.add(
                        PartnerOrganisation(
                            municipality_id=m.id,
                            key=kind,
                            name=f"{kind} ({town.slug})",
                            kind=kind,
                            public_key=os.urandom(32),
                        )
                    )
                ids.append(m.id)
            staff = (
                (LARGE_LOGIN, "coordinator", ids[0]),
                (SMALL_LOGIN, "coordinator", ids[-1]),
                (OPERATOR_LOGIN, "network_operator", None),
            )
            for login, role, municipality_id in staff:
                create_account(
                    session,
                    config,
                    login=login,
                    role=role,
                    municipality_id=municipality_id,
                    password=BENCH_PASSWORD,
                    totp_confirmed=True,
                )
    accounts = time.perf_counter()

    draws = {
        name: uniform(stream)
        for stream, name in enumerate(
            ("town", "jitter", "assess", "consent", "refer", "second", "urgency_draw"), start=1
        )
    }
    case_draws = {f"r{k}": uniform(100 + k) for k in range(1, 12)}
    steps: list[tuple[str, str, dict[str, Any]]] = []
    span = YEARS * 365 * 86400
    start = now - timedelta(seconds=span)
    params = {"now": now, "start": start, "span": span, "cases": cases}
    steps.append(
        (
            "draws",
            SEED_CASE.format(
                town=draws["town"],
                jitter=draws["jitter"],
                assess=draws["assess"],
                consent=draws["consent"],
                refer=draws["refer"],
                second=draws["second"],
                urgency_draw=draws["urgency_draw"],
                urgency=choice(URGENCY_ASSESSED, uniform(9, "s.g")),
            ),
            params,
        )
    )
    steps.append(
        (
            "report_case",
            INSERT_CASES.format(
                affected=choice(AFFECTED_ROLES, case_draws["r10"]),
                channel=choice(CHANNELS, case_draws["r11"]),
                perpetrator=choice(PERPETRATORS, uniform(112)),
                sealed_key=dummy_bytes("id || 'k'", "82"),
                report=dummy_bytes("id || 'r'", f"600 + floor({uniform(113)} * 920)"),
                **{k: v for k, v in case_draws.items() if k not in ("r10", "r11")},
            ),
            params,
        )
    )
    steps.append(
        (
            "assessment",
            INSERT_ASSESSMENTS.format(
                r1=uniform(201),
                r2=uniform(202),
                r3=uniform(203),
                r4=uniform(204),
                phenomenon=choice(PHENOMENA, uniform(205)),
                notes=dummy_bytes("id || 'n'", f"120 + floor({uniform(206)} * 400)"),
            ),
            params,
        )
    )
    streams = {kind: 300 + 10 * offset for offset, kind in enumerate(CODE_WEIGHTS)}
    steps.append(
        (
            "assessment_code",
            INSERT_CODES.format(
                codes=" ".join(
                    f"WHEN '{k}' THEN {choice(w, uniform(f'{streams[k]} + j'))}" for k, w in CODE_WEIGHTS.items()
                ),
                counts=" ".join(
                    f"WHEN '{k}' THEN {how_many(CODE_COUNTS[k], uniform(streams[k]))}" for k in CODE_WEIGHTS
                ),
                kinds=", ".join(f"('{k}')" for k in CODE_WEIGHTS),
            ),
            {},
        )
    )
    first = choice(PARTNER_KINDS, uniform(401))
    steps.append(
        (
            "referral",
            INSERT_REFERRALS.format(
                outcome=choice(OUTCOMES, uniform("500 + r.j", "r.g")),
                r1=uniform("510 + r.j", "r.g"),
                r2=uniform("520 + j"),
                r3=uniform("530 + j"),
                r4=uniform("540 + j"),
                first_kind=first,
                second_kind=choice(PARTNER_KINDS, uniform(402)),
                key_partner=dummy_bytes("r.id || r.j || 'p'", "82"),
                key_office=dummy_bytes("r.id || r.j || 'o'", "82"),
                packet=dummy_bytes("r.id || r.j || 'q'", f"300 + floor({uniform('550 + r.j', 'r.g')} * 600)"),
            ),
            params,
        )
    )

    timings = []
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL synchronous_commit = off"))
        connection.execute(text("SET LOCAL work_mem = '64MB'"))
        connection.execute(text("CREATE TEMP TABLE seed_town (id varchar(32), lo float8, hi float8) ON COMMIT DROP"))
        rows = session_towns(connection, plan)
        connection.execute(text("INSERT INTO seed_town (id, lo, hi) VALUES (:id, :lo, :hi)"), rows)
        # The migrations' plain indexes are built once after the rows are in (same definitions),
        # not kept up row by row; constraints' indexes stay. All in this one transaction.
        secondary = connection.execute(SECONDARY_INDEXES).all()
        for name, _definition in secondary:
            connection.execute(text(f'DROP INDEX "{name}"'))
        for label, statement, values in steps:
            step_start = time.perf_counter()
            result = connection.execute(text(statement), values)
            timings.append(f"{label} {result.rowcount} rows {time.perf_counter() - step_start:.0f} s")
        step_start = time.perf_counter()
        for _name, definition in secondary:
            connection.execute(text(definition))
        timings.append(f"{len(secondary)} indexes {time.perf_counter() - step_start:.0f} s")
    written = time.perf_counter()
    with make_session_factory(engine)() as session, session.begin():
        statistics.refresh(session)
        session.execute(text(ROLLUP_HISTORY))
        session.execute(text(ROLLUP_DELETIONS))
    rolled = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(
        f"seeded {cases} cases: municipalities and accounts {accounts - started:.1f} s, "
        f"INSERT ... SELECT {written - accounts:.0f} s ({'; '.join(timings)}), "
        f"first refresh + rollup {rolled - written:.0f} s, VACUUM ANALYZE {time.perf_counter() - rolled:.0f} s"
    )


def session_towns(connection: Connection, plan: list[Town]) -> list[dict[str, Any]]:
    """The municipalities' ids with their share of [0, 1), for drawing a case's municipality."""
    ids = dict(connection.execute(select(Municipality.slug, Municipality.id)).all())
    rows, lo = [], 0.0
    for town in plan:
        hi = 1.0 if town is plan[-1] else lo + town.share
        rows.append({"id": ids[town.slug], "lo": lo, "hi": hi})
        lo = hi
    return rows


def ensure_database(url: str) -> None:
    """Create the bench database if absent (connecting to the server's `postgres` database)."""
    parsed = make_url(url)
    name = parsed.database or ""
    engine = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if not connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def already_seeded(url: str, cases: int) -> bool:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            count = session.scalar(select(func.count()).select_from(Case))
            logins = set(session.scalars(select(Account.login)))
            rollup = session.scalar(select(func.count()).select_from(StatisticsRollup))
        upgrade_database(url)  # a no-op at head; a newer migration is applied to the kept data
    except Exception:  # an empty or foreign schema: seed anew
        return False
    finally:
        engine.dispose()
    return count == cases and {LARGE_LOGIN, SMALL_LOGIN, OPERATOR_LOGIN} <= logins and bool(rollup)


# The measurement ----------------------------------------------------------------------------

UNION = """
SELECT month, dimension, code, count FROM statistics_live
 WHERE municipality_id IN :ids AND month >= :lo AND month <= :hi
UNION ALL
SELECT month, dimension, code, count FROM statistics_rollup
 WHERE municipality_id IN :ids AND month >= :lo AND month <= :hi
"""
BARE = text(
    f"SELECT month, dimension, code, sum(count) FROM ({UNION}) AS both_tables GROUP BY month, dimension, code"
).bindparams(bindparam("ids", expanding=True))


def bare_counts(session: Session, ids: list[str], year: int) -> list[Any]:
    return list(session.execute(BARE, {"ids": ids, "lo": f"{year}-01", "hi": f"{year}-12"}).all())


def log_in(app: Flask, login: str) -> FlaskClient:
    """Password, then TOTP, over HTTP, as a person would (the bench knows the TOTP secret)."""
    config = app.extensions["komma"].config
    with app.extensions["komma"].session_factory() as session, session.begin():
        account = session.scalar(select(Account).where(Account.login == login))
        if account is None:
            raise RuntimeError(f"no bench account {login}")
        # A step is accepted once per account: a run right after the last one must not be refused.
        account.last_totp_step, account.failed_logins, account.locked_until = 0, 0, None
        secret = totp_secret_with_password(config, account, BENCH_PASSWORD)
        if secret is None:
            raise RuntimeError(f"{login}: the bench password no longer opens the account key")
    client = app.test_client()
    for path, data in (
        ("/anmelden", {"login": login, "password": BENCH_PASSWORD}),
        ("/anmelden/code", {"code": pyotp.TOTP(secret).now()}),
    ):
        match = CSRF_RE.search(client.get(path).get_data(as_text=True))
        if match is None:
            raise RuntimeError(f"no CSRF token on {path}")
        response = client.post(path, data={**data, "csrf_token": match.group(1)})
        if response.status_code != 303:
            raise RuntimeError(f"{login}: {path} answered {response.status_code}")
    return client


def run_interleaved(variants: dict[str, Callable[[], object]], runs: int) -> dict[str, Timings]:
    timings = {label: Timings(label) for label in variants}
    items = list(variants.items())
    for _ in range(WARMUP):
        for _label, work in items:
            work()
    for index in range(runs):
        shift = index % len(items)
        for label, work in items[shift:] + items[:shift]:
            start = time.perf_counter()
            work()
            timings[label].seconds.append(time.perf_counter() - start)
    return timings


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def vacuum_live(url: str) -> None:
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE statistics_live"))
    engine.dispose()


def context_figures(url: str, factory: sessionmaker[Session], largest: str) -> list[str]:
    """refresh() and its SELECT alone, for all and for the largest: what the rollup saves the dashboards."""
    lines = []
    with factory() as session, session.begin():
        total = session.scalar(select(func.count()).select_from(Municipality)) or 0
        seconds = timed(lambda: statistics.refresh(session))
    vacuum_live(url)
    lines.append(f"refresh() of all {total} municipalities (the hourly job), one transaction: {seconds:.2f} s")
    one = []
    for _ in range(3):
        with factory() as session, session.begin():
            one.append(timed(lambda: statistics.refresh(session, largest)))
    vacuum_live(url)
    lines.append(f"refresh() of the largest municipality alone: {ms(sorted(one)[1]).strip()} (median of 3)")

    def direct(municipality_id: str | None) -> Callable[[], object]:
        def work() -> object:
            with factory() as session:
                return session.execute(statistics._queries(session, municipality_id)).all()

        return work

    for label, municipality_id in (("all municipalities", None), ("the largest municipality", largest)):
        direct(municipality_id)()
        seconds = sorted(timed(direct(municipality_id)) for _ in range(3))[1]
        lines.append(
            f"aggregating the case rows directly (refresh()'s SELECT without the INSERT, all {YEARS} years), "
            f"{label}: {ms(seconds).strip()} (median of 3)"
        )
    return lines


@dataclass(frozen=True)
class Scenario:
    name: str
    role: str  # "target": PASS/FAIL; "extra": INFO
    network: bool
    municipality_id: str | None
    client: FlaskClient
    path: str


def measure(url: str, runs: int) -> bool:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    year = date.today().year
    start, end = date(year, 1, 1), date(year, 12, 31)
    with factory() as session:
        counts = dict(session.execute(select(Case.municipality_id, func.count()).group_by(Case.municipality_id)).all())
        # The municipalities of the two coordinators: the largest and the smallest by plan.
        logins = dict(
            session.execute(
                select(Account.login, Account.municipality_id).where(Account.login.in_((LARGE_LOGIN, SMALL_LOGIN)))
            ).all()
        )
        largest_id, smallest_id = logins[LARGE_LOGIN], logins[SMALL_LOGIN]
        largest = session.get(Municipality, largest_id)
        smallest = session.get(Municipality, smallest_id)
        if largest is None or smallest is None:
            raise RuntimeError("the bench municipalities are missing")
        members = list(session.scalars(select(Municipality).where(Municipality.statistics_opt_in.is_(True))))
        groups = {g: [m.id for m in members if m.network_role == g] for g in ("model", "platform")}
        counted = session.scalar(
            select(func.count())
            .select_from(Case)
            .join(Assessment, Assessment.case_id == Case.id)
            .where(Case.consent_statistics.is_(True))
        )
        codes = session.scalar(select(func.count()).select_from(AssessmentCode))
        referrals = session.scalar(
            select(func.count(func.distinct(Referral.case_id))).where(Referral.sent_at.is_not(None))
        )
        live = session.scalar(select(func.count()).select_from(StatisticsLive))
        rollup = session.scalar(select(func.count()).select_from(StatisticsRollup))
        size = session.scalar(text("SELECT pg_size_pretty(pg_total_relation_size('report_case'))"))
        server = session.scalar(text("SHOW server_version"))
    total = sum(counts.values())
    print(
        f"Komm.A statistics bench on PostgreSQL {server} {make_url(url).host}/{make_url(url).database}; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{total} cases in {len(counts)} municipalities (report_case {size}); {counted} counted "
        f"(consented and assessed), {codes} assessment codes, {referrals} cases with a sent referral; "
        f"statistics_live {live} rows, statistics_rollup {rollup} rows"
    )
    print(
        f"largest municipality: {largest.slug} ({largest.network_role}) with {counts[largest_id]} cases; "
        f"smallest: {smallest.slug} with {counts[smallest_id]}; network: {len(members)} opted in "
        f"({len(groups['model'])} model, {len(groups['platform'])} platform); year {year}"
    )
    print()
    for line in context_figures(url, factory, largest_id):
        print(line)
    print()

    verdicts: list[tuple[str, str]] = []
    all_ids = [m.id for m in members]
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(bench_config(url, Path(instance), argon2=TEST_ARGON2))
        large, small, operator = (log_in(app, login) for login in (LARGE_LOGIN, SMALL_LOGIN, OPERATOR_LOGIN))
        scenarios = [
            Scenario(
                "municipality dashboard, by quarter",
                "target",
                False,
                largest_id,
                large,
                f"/statistik?jahr={year}",
            ),
            Scenario(
                "smallest municipality, by quarter",
                "extra",
                False,
                smallest_id,
                small,
                f"/statistik?jahr={year}",
            ),
            Scenario("network dashboard", "target", True, None, operator, f"/netzwerk/statistik?jahr={year}"),
        ]
        print("one run = new Session, the work, close; times p50 / p95; ratio = p95 / bare p95\n")
        for scenario in scenarios:
            id_lists = (
                [all_ids, groups["model"], groups["platform"]] if scenario.network else [[scenario.municipality_id]]
            )

            def bare(id_lists: list[list[str]] = id_lists) -> list[list[Any]]:
                with factory() as session:
                    return [bare_counts(session, ids, year) for ids in id_lists]

            def dashboard(scenario: Scenario = scenario) -> list[statistics.Table]:
                with app.test_request_context():
                    if scenario.network:
                        built = stats_views._network_tables(year)
                        return [*built[0], *built[1]]
                    municipality = db_session().get(Municipality, scenario.municipality_id)
                    if municipality is None:
                        raise RuntimeError(f"no municipality {scenario.municipality_id}")
                    return stats_views._municipality_tables(municipality, year)

            def page(scenario: Scenario = scenario) -> bytes:
                response = scenario.client.get(scenario.path)
                if response.status_code != 200:
                    raise RuntimeError(f"{scenario.path}: {response.status_code}")
                return response.get_data()

            # The bare rows and the dashboard's counts must agree before their times mean anything.
            with app.test_request_context():
                expected = [statistics.counts(db_session(), ids, start, end) for ids in id_lists]
            same = [{(m, d, c): int(n) for m, d, c, n in part} for part in bare()] == expected
            tables = dashboard()
            hidden = sum(
                t.protected.hidden(i, j)
                for t in tables
                for i in range(len(t.codes) + 1)
                for j in range(len(t.periods) + 1)
            )
            cells = sum((len(t.codes) + 1) * (len(t.periods) + 1) for t in tables)
            html = page()
            print(
                f"{scenario.name}: {sum(len(part) for part in expected)} aggregated rows, {len(tables)} tables, {cells} cells "
                f"of which {hidden} suppressed, page {len(html) // 1024} KiB; counts agree with bare: {'yes' if same else 'NO'}"
            )
            if not same:
                verdicts.append(("FAIL", f"{scenario.name}: the dashboard's counts differ from the bare query's"))
            timings = run_interleaved({"bare": bare, "dashboard": dashboard, "page": page}, runs)
            base, mine, shown = timings["bare"], timings["dashboard"], timings["page"]
            ratio, page_ratio = mine.p95 / base.p95, shown.p95 / base.p95
            print(f"  {'bare: the aggregate SQL, rows fetched':<46} {ms(base.median)} {ms(base.p95)}")
            print(
                f"  {'dashboard: counts + protected tables':<46} {ms(mine.median)} {ms(mine.p95)}   ratio {ratio:5.2f}"
            )
            print(
                f"  {'page: GET through the test client, rendered':<46} {ms(shown.median)} {ms(shown.p95)}   ratio {page_ratio:5.2f}"
            )
            print()
            within = mine.p95 < TARGET_SECONDS and ratio <= TARGET_RATIO
            line = f"{scenario.name}: p95 {mine.p95 * 1e3:.1f} ms, {ratio:.2f}x bare"
            page_line = f"{scenario.name} page: p95 {shown.p95 * 1e3:.1f} ms"
            if scenario.role == "target":
                verdicts.append(
                    ("PASS" if within else "FAIL", f"{line} (target < {TARGET_SECONDS:.0f} s and <= {TARGET_RATIO}x)")
                )
                verdicts.append(
                    ("PASS" if shown.p95 < TARGET_SECONDS else "FAIL", f"{page_line} (target < {TARGET_SECONDS:.0f} s)")
                )
                verdicts.append(
                    (
                        "INFO",
                        f"{page_line}, {page_ratio:.2f}x bare (HTML and SVG have no counterpart in the bare query)",
                    )
                )
            else:
                verdicts.append(
                    (
                        "INFO",
                        f"{line}; page p95 {shown.p95 * 1e3:.1f} ms (no target; {'within' if within else 'outside'} the targets' limits)",
                    )
                )
        app.extensions["komma"].engine.dispose()
    engine.dispose()
    for verdict, line in verdicts:
        print(f"{verdict} {line}")
    return all(verdict != "FAIL" for verdict, _ in verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default=DEFAULT_URL, help=f"PostgreSQL; wiped unless --reuse (default {DEFAULT_URL})"
    )
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases over all municipalities (default 1000000)")
    parser.add_argument("--reuse", action="store_true", help="keep the database if it already holds the cases")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        raise SystemExit("this bench needs PostgreSQL")
    import_all_models()
    ensure_database(args.database_url)
    if args.reuse and already_seeded(args.database_url, args.cases):
        print("reusing the seeded database")
    else:
        with migrated_database(args.database_url) as database:
            seed(database.url, args.cases)
    sys.exit(0 if measure(args.database_url, args.runs) else 1)


if __name__ == "__main__":
    main()
