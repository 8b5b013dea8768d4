"""Measures the clearing office's inbox over 100 000 cases in PostgreSQL against the same query without decryption.

The inbox is clearing.cases.inbox.load_inbox as the inbox view calls it, for an officer who logged in
with password (Argon2 at test parameters, which only the login pays, not the page) and holds the
office key: a count, the page statement (25 rows) and one query for the page's codes, then the
summary of each row on the page decrypted (HPKE open of the case key, then the report's box).
"Bare" is the same call with office_key=None: the same three statements, same filters, same ORM
objects, no decryption. "Hand SQL" is a page statement as anyone would write it by hand, ORDER BY
and LIMIT over whole rows, as text() returning plain rows: no ORM, no count, no codes. It also
checks load_inbox's answer: the same ids in the same order.

Pages: the first page (newest first, no filter); a filtered page (status, urgency and incident
type, sorted by urgency); a wide filter (incident type and motive, each a semi-join over
case_code, the last twelve months, sorted by urgency, page 2: thousands of matches to count and
sort); the overdue cases nobody is assigned (the overdue condition as a filter). The issue's
target (p95 at most 2x bare and under 150 ms) is judged PASS/FAIL on the first and the filtered
page; the wide filter and the overdue page are measured alike and reported as INFO. Each run is
one request's worth: a new Session (pool checkout with its pre-ping, BEGIN), the work, close.
The variants run interleaved in rotating order, so load from other processes hits all alike.
p50/p95 are nearest-rank over the runs; the ratio is komma p95 / bare p95.

Statements per page are counted with a before_cursor_execute listener for a page with 1 row and
a page with 25 rows; they must be equal (no per-row query, no lazy load).

The data: a municipality with --cases cases over three years (volume growing towards now,
statuses by age, urgency, 1-3 incident types and 1-2 motives per case, most older cases assigned
to one of six officers), and a neighbouring municipality with a tenth as many, so the scoping
condition has rows to exclude. Every case is sealed and encrypted as reporting.service does it
(a fresh case key per case, sealed to the office key with the case id as record id; the
report as JSON in a box under the case key), in a process pool, and written with COPY. Only
report_case and case_code are filled: the inbox reads nothing else. VACUUM ANALYZE at the end,
as autovacuum would have done on a database that has grown over years. The schema is the
migrations' (the header names any index the models declare that the database lacks or builds otherwise).

Run from the project root: .venv/bin/python bench/inbox_bench.py [--cases N] [--reuse] [--runs N] [--explain]
The database (default komma_bench_inbox on 127.0.0.1, created if absent) is wiped and seeded;
its name must contain "bench". --reuse keeps it if it already holds the cases.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

# Run as a script, Python puts bench/ on the path, not the checkout that holds the project.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common
from _common import Timings, ms

import crypto
from clearing.cases.deadlines import overdue_limits
from clearing.cases.inbox import PAGE_SIZE, URGENCY_ORDER, InboxFilter, InboxPage, load_inbox
from clearing.cases.workflow import OPEN_STATES
from core.accounts import check_password, create_account
from core.clock import SystemClock
from core.custody import grant_office_key, office_key_for, office_key_from_recovery
from core.db import make_engine, make_session_factory
from core.migrate import upgrade_database
from core.model_registry import import_all_models
from core.models import Account, Municipality
from core.staff import Staff
from core.tenancy import create_municipality
from reporting import case_crypto
from reporting.content import CONSENT_NAMES
from reporting.models import Case, CaseCode

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/komma_bench_inbox"
TARGET_RATIO = 2.0
TARGET_P95 = 0.150
WARMUP = 3
SEED = 20261102

HOME_SLUG, NEIGHBOUR_SLUG = "benchstadt", "nachbarort"
OFFICER_LOGIN = "bench.officer"
# A bench-only account on a bench-only database: fixed, so that --reuse can log in again.
OFFICER_PASSWORD = "bench-officer-password"  # noqa: S105
RARE_LOGIN = "bench.rare"  # assigned exactly one case: the page with one row
COLLEAGUES = 5
YEARS = 3
CHUNK = 2000


# The data -----------------------------------------------------------------------------------

STATUS_BY_AGE: list[tuple[float, dict[str, float]]] = [
    (7, {"received": 60, "in_review": 30, "assessed": 10}),
    (
        30,
        {
            "received": 8,
            "in_review": 35,
            "assessed": 25,
            "referred": 15,
            "awaiting_feedback": 7,
            "closed": 8,
            "withdrawn": 2,
        },
    ),
    (
        92,
        {
            "received": 2,
            "in_review": 10,
            "assessed": 15,
            "referred": 15,
            "awaiting_feedback": 18,
            "closed": 37,
            "withdrawn": 3,
        },
    ),
    (
        1e9,
        {
            "received": 0.3,
            "in_review": 1.5,
            "assessed": 1.5,
            "referred": 2,
            "awaiting_feedback": 3,
            "closed": 88,
            "withdrawn": 3.7,
        },
    ),
]
URGENCY_ASSESSED = {"acute": 3, "high": 17, "normal": 55, "low": 25}
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
SENTENCES = [
    "Nach der Sitzung wurde ich auf dem Parkplatz von zwei Männern angesprochen.",
    "Man sagte mir, man wisse, wo ich wohne, und ich solle mir meine Abstimmung gut überlegen.",
    "Einer filmte mich dabei mit dem Handy.",
    "Das Video tauchte zwei Tage später in einer lokalen Gruppe auf, mit meiner Adresse in den Kommentaren.",
    "Im Bürgerbüro beschimpfte mich ein Besucher lautstark, weil sein Antrag abgelehnt worden war.",
    "Er drohte, er komme wieder und dann nicht allein.",
    "Seit Wochen erhalte ich fast täglich E-Mails mit Beleidigungen, alle vom selben anonymen Absender.",
    "An unserem Gartenzaun wurde ein Schild mit der Aufschrift „Volksverräter“ befestigt.",
    "Bei der Bürgerversammlung zum Windpark wurde ich mehrfach ausgebuht und als Lügnerin bezeichnet.",
    "Ein Kommentar unter dem Beitrag der Gemeinde fordert, man solle mich „mal besuchen“.",
    "Meine Telefonnummer wurde zusammen mit Fotos meiner Kinder in einem Kanal geteilt.",
    "Der Anrufer nannte keinen Namen und legte nach der Drohung sofort auf.",
    "Die Reifen meines Dienstwagens wurden in der Nacht zerstochen.",
    "Im Briefkasten lag ein Brief ohne Absender mit einer Patrone darin.",
    "Eine Gruppe verteilte Flugblätter mit meinem Foto und falschen Behauptungen über meine Familie.",
    "Ich habe die Nachrichten gesichert und Bildschirmfotos gemacht.",
    "Eine Kollegin war dabei und kann das bestätigen.",
    "Ich fühle mich seitdem auf dem Weg zur Arbeit nicht mehr sicher.",
    "Die Polizei habe ich noch nicht eingeschaltet, weil ich nicht weiß, ob das etwas bringt.",
    "Es ist nicht das erste Mal, im Frühjahr gab es schon ähnliche Vorfälle.",
    "Ich bitte um eine Einschätzung, ob ich Anzeige erstatten sollte.",
    "In der Ratssitzung rief ein Zuhörer, Leute wie ich gehörten weggesperrt.",
    "Auf meinem Anrufbeantworter waren drei Nachrichten mit rassistischen Beschimpfungen.",
    "Die Beiträge wurden inzwischen mehrere hundert Mal geteilt.",
]


def weighted_sample(rng: random.Random, weights: dict[str, float], count: int) -> list[str]:
    """`count` distinct codes, each drawn by weight (the first drawn is the most likely)."""
    chosen: list[str] = []
    names, values = list(weights), list(weights.values())
    while len(chosen) < count:
        pick = rng.choices(names, values)[0]
        if pick not in chosen:
            chosen.append(pick)
    return chosen


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def reference(index: int, municipality_number: int) -> str:
    """Unique like the real ones (K- and eight letters of the same alphabet), but by counting."""
    alphabet = "ACDEFHJKLMNPRTUVWXY3479"
    number, letters = index * 2 + municipality_number, []
    for _ in range(8):
        number, digit = divmod(number, len(alphabet))
        letters.append(alphabet[digit])
    return "K-" + "".join(letters)


@dataclass
class Seeded:
    case_row: dict[str, Any]
    codes: list[tuple[str, str]]
    content_args: tuple[Any, ...] = field(default=())


def make_case(
    rng: random.Random, index: int, municipality: Municipality, number: int, officers: list[str], now: datetime
) -> Seeded:
    # More reports towards now: the age's density falls linearly from today to three years ago.
    age = timedelta(days=YEARS * 365 * (1 - rng.random() ** 0.5), seconds=rng.randrange(86400))
    received_at = now - age
    days = age.total_seconds() / 86400
    status = pick(rng, next(weights for limit, weights in STATUS_BY_AGE if days < limit))
    if status == "received":
        urgency = "acute" if rng.random() < 0.04 else "normal"
        acknowledged_at = (
            received_at + timedelta(hours=rng.uniform(2, 100)) if rng.random() < 0.3 and days > 2 else None
        )
        assigned_to = rng.choice(officers) if rng.random() < 0.2 else None
    else:
        urgency = pick(rng, URGENCY_ASSESSED)
        # Mostly within the 7 days, some late, a few never (a case closed without a reply).
        acknowledged_at = received_at + timedelta(hours=rng.expovariate(1 / 60)) if rng.random() < 0.97 else None
        assigned_to = rng.choice(officers) if rng.random() < 0.85 else None
    if acknowledged_at is not None and acknowledged_at > now:
        acknowledged_at = None
    status_changed_at = received_at + (now - received_at) * rng.random() if status != "received" else received_at
    incident_types = weighted_sample(rng, INCIDENT_WEIGHTS, rng.choices((1, 2, 3), (55, 35, 10))[0])
    motives = weighted_sample(rng, MOTIVE_WEIGHTS, rng.choices((1, 2), (75, 25))[0])
    month = (received_at - timedelta(days=rng.expovariate(1 / 10))).strftime("%Y-%m")
    affected, channel, perpetrator = pick(rng, AFFECTED_ROLES), pick(rng, CHANNELS), pick(rng, PERPETRATORS)
    case_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
    row: dict[str, Any] = {
        "id": case_id,
        "municipality_id": municipality.id,
        "reference": reference(index, number),
        "received_at": received_at,
        "status": status,
        "status_changed_at": status_changed_at,
        "urgency": urgency,
        "affected_role": affected,
        "channel": channel,
        "incident_month": month,
        "perpetrator_context": perpetrator,
        **{
            f"consent_{name}": rng.random() < share
            for name, share in zip(CONSENT_NAMES, (0.6, 0.3, 0.2, 0.15, 0.7, 0.05), strict=True)
        },
        "deletion_requested_at": now - timedelta(days=rng.uniform(0, 30))
        if status == "closed" and rng.random() < 0.01
        else None,
        "acknowledged_at": acknowledged_at,
        "assigned_to": assigned_to,
    }
    codes = [("incident_type", c) for c in incident_types] + [("motive", m) for m in motives]
    content_args = (
        rng.getrandbits(32),
        incident_types,
        motives,
        affected,
        channel,
        perpetrator,
        month,
        urgency == "acute",
    )
    return Seeded(row, codes, content_args)


def report_content(
    seed: int,
    incident_types: list[str],
    motives: list[str],
    affected: str,
    channel: str,
    perpetrator: str,
    month: str,
    acute: bool,
) -> dict[str, Any]:
    """What reporting.intake.report_from_form stores, with a description of 1-8 sentences."""
    rng = random.Random(seed)  # noqa: S311 - made-up test data, reproducible by seed
    description = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 8)))
    return {
        "reporter_role": rng.choice(("affected", "affected", "affected", "witness", "colleague", "supervisor")),
        "incident_time": f"{rng.randrange(24):02d}:{rng.randrange(0, 60, 5):02d}" if rng.random() < 0.5 else "",
        "place": rng.choice(("", "Rathaus", "Parkplatz am Rathaus", "Bürgerbüro", "online", "vor meiner Wohnung")),
        "platform": rng.choice(("", "", "Facebook-Gruppe „Unser Ort“", "Telegram", "X", "Instagram")),
        "evidence_found": "",
        "police_reference": f"ST/{rng.randrange(10000):04d}/{month[2:4]}" if rng.random() < 0.25 else "",
        "perpetrator_description": rng.choice(("", "Zwei Männer, etwa 40 bis 50 Jahre alt.", "Ein anonymes Profil.")),
        "description": description,
        "contact": rng.choice(("none", "mailbox", "email", "phone")),
        "contact_email": "",
        "contact_phone": "",
        "incident_date": f"{month}-{rng.randint(1, 28):02d}" if rng.random() < 0.7 else None,
        "incident_month": month,
        "ongoing": rng.random() < 0.3,
        "known_since": None,
        "urls": [f"https://example.org/post/{rng.randrange(10**9)}" for _ in range(rng.choice((0, 0, 1, 2, 3)))],
        "already_done": {
            "police": rng.random() < 0.3,
            "supervisor": rng.random() < 0.4,
            "counselling": rng.random() < 0.1,
        },
        "perpetrator": perpetrator,
        "incident_types": incident_types,
        "motives": motives,
        "affected_role": affected,
        "channel": channel,
        "acute_danger": acute,
    }


def encrypt_chunk(job: tuple[bytes, list[tuple[str, tuple[Any, ...]]]]) -> list[tuple[bytes, bytes]]:
    """In a worker process: for each case a fresh case key, sealed and used as submit_report does."""
    office_public_key, items = job
    result = []
    for case_id, content_args in items:
        case_key = crypto.random_key()
        result.append(
            (
                case_crypto.seal_case_key(office_public_key, case_key, case_id),
                case_crypto.encrypt_report(case_key, case_id, report_content(*content_args)),
            )
        )
    return result


def copy_cases(engine: Engine, pool: ProcessPoolExecutor, municipality: Municipality, seeded: list[Seeded]) -> None:
    """Encrypt in the pool, chunk by chunk, and COPY the rows as the chunks come back, in one transaction."""
    if not municipality.office_public_key:
        raise RuntimeError("the bench municipality has no office key")
    jobs = [
        (municipality.office_public_key, [(s.case_row["id"], s.content_args) for s in seeded[start : start + CHUNK]])
        for start in range(0, len(seeded), CHUNK)
    ]
    # The columns the bench fills; any other (nullable) column of the table stays NULL.
    columns = [*seeded[0].case_row, "sealed_case_key", "report_ciphertext"]
    with engine.begin() as connection:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY report_case ({', '.join(columns)}) FROM STDIN") as copy:
            for start, sealed in zip(range(0, len(seeded), CHUNK), pool.map(encrypt_chunk, jobs), strict=True):
                for item, (sealed_key, ciphertext) in zip(seeded[start : start + CHUNK], sealed, strict=True):
                    row = {**item.case_row, "sealed_case_key": sealed_key, "report_ciphertext": ciphertext}
                    copy.write_row([row[name] for name in columns])
        with cursor.copy("COPY case_code (case_id, kind, code) FROM STDIN") as copy:
            for item in seeded:
                for kind, code in item.codes:
                    copy.write_row((item.case_row["id"], kind, code))
        cursor.close()


def seed(url: str, cases: int) -> None:
    started = time.perf_counter()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    rng = random.Random(SEED)  # noqa: S311 - made-up test data, reproducible by seed
    with tempfile.TemporaryDirectory() as instance:
        config = _common.bench_config(url, Path(instance), argon2=crypto.TEST_ARGON2)
        # The seeding creates and seals to bound keys: its sessions carry the binding key.
        factory = make_session_factory(engine, config.audit_key, key_binding_key=config.key_binding_key)
        with factory() as session, session.begin():
            municipalities = []
            for number, (slug, name, count) in enumerate(
                ((HOME_SLUG, "Benchstadt", cases), (NEIGHBOUR_SLUG, "Nachbarort", max(1, cases // 10)))
            ):
                created = create_municipality(session, slug, name)
                # The office key opened with the recovery key printed at setup, then granted to the officers.
                office_key = office_key_from_recovery(session, created.municipality, created.recovery_key)
                logins = [f"{slug}.officer{i}" for i in range(COLLEAGUES)] + (
                    [OFFICER_LOGIN, RARE_LOGIN] if number == 0 else []
                )
                officers = []
                for login in logins:
                    password = OFFICER_PASSWORD if login == OFFICER_LOGIN else None
                    account = create_account(
                        session,
                        config,
                        login=login,
                        role="officer",
                        municipality_id=created.municipality.id,
                        password=password,
                        totp_confirmed=True,
                    ).account
                    grant_office_key(session, office_key, account)
                    officers.append(account.id)
                municipalities.append((created.municipality, number, count, officers))
    build = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        total = 0
        for municipality, number, count, officers in municipalities:
            # The rare officer takes part in no draw; exactly one case of the home municipality is theirs.
            everyday = officers[: COLLEAGUES + 1]
            seeded = [make_case(rng, index, municipality, number, everyday, now) for index in range(count)]
            if number == 0:
                seeded[count // 2].case_row["assigned_to"] = officers[-1]
            copy_cases(engine, pool, municipality, seeded)
            total += count
    written = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(
        f"seeded {total} cases: accounts {build - started:.1f} s, encrypt + COPY {written - build:.1f} s, "
        f"VACUUM ANALYZE {time.perf_counter() - written:.1f} s"
    )


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
            counts = dict(
                session.execute(
                    select(Municipality.slug, func.count(Case.id))
                    .join(Case, Case.municipality_id == Municipality.id)
                    .group_by(Municipality.slug)
                ).all()
            )
            officer = session.scalar(select(Account.id).where(Account.login == OFFICER_LOGIN))
        upgrade_database(url)  # a no-op at head; a newer migration is applied to the kept data
    except Exception:  # an empty or foreign schema: seed anew
        return False
    finally:
        engine.dispose()
    return officer is not None and counts.get(HOME_SLUG) == cases and counts.get(NEIGHBOUR_SLUG) == max(1, cases // 10)


# The measurement ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSpec:
    name: str
    filters: InboxFilter
    # The page statement by hand: WHERE (after the municipality), ORDER BY, and its parameters.
    where: str
    order: str
    params: dict[str, Any] = field(default_factory=dict)
    # "target": the pages, PASS/FAIL; "extra": measured alike, reported as INFO;
    # "count": only its statements are counted.
    role: str = "target"


def page_specs(today: date, rare_officer: str) -> list[PageSpec]:
    year_ago = today - timedelta(days=365)
    codes = "c.id IN (SELECT case_id FROM case_code WHERE kind = :{0}_kind AND code = :{0})"
    urgency_rank = (
        "CASE c.urgency " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in URGENCY_ORDER.items()) + " ELSE 9 END"
    )
    # The inbox pins open acute cases on top of every sort.
    pinned = (
        f"CASE WHEN c.urgency = 'acute' AND c.status IN ({', '.join(repr(s) for s in OPEN_STATES)}) THEN 0 ELSE 1 END"
    )
    return [
        PageSpec("first page", InboxFilter(), "", f"{pinned}, c.received_at DESC, c.id"),
        PageSpec(
            "filtered page",
            InboxFilter(status="in_review", urgency="high", incident_type="threat", sort="urgency"),
            " AND c.status = 'in_review' AND c.urgency = 'high' AND " + codes.format("incident_type"),
            f"{pinned}, {urgency_rank}, c.received_at DESC, c.id",
            {"incident_type_kind": "incident_type", "incident_type": "threat"},
        ),
        PageSpec(
            "wide filter",
            InboxFilter(
                incident_type="threat",
                motive="political_engagement",
                received_from=year_ago,
                sort="urgency",
                page=2,
            ),
            " AND "
            + codes.format("incident_type")
            + " AND "
            + codes.format("motive")
            + " AND c.received_at >= :received_from",
            f"{pinned}, {urgency_rank}, c.received_at DESC, c.id",
            {
                "incident_type_kind": "incident_type",
                "incident_type": "threat",
                "motive_kind": "motive",
                "motive": "political_engagement",
                "received_from": datetime.combine(year_ago, datetime.min.time(), tzinfo=UTC),
            },
            role="extra",
        ),
        PageSpec(
            "overdue, unassigned",
            InboxFilter(overdue=True, assigned="none"),
            " AND c.assigned_to IS NULL AND {overdue}",
            f"{pinned}, c.received_at DESC, c.id",
            role="extra",
        ),
        PageSpec(
            "one row (assigned to the rare officer)",
            InboxFilter(assigned=rare_officer),
            " AND c.assigned_to = :rare",
            f"{pinned}, c.received_at DESC, c.id",
            {"rare": rare_officer},
            role="count",
        ),
    ]


def hand_sql(spec: PageSpec, municipality_id: str, page: int) -> Callable[[Session], list[Any]]:
    overdue = (
        f"(c.status IN ({', '.join(repr(s) for s in OPEN_STATES)}) AND "
        "((c.acknowledged_at IS NULL AND c.received_at < :ack_limit) OR c.received_at < :feedback_limit))"
    )
    # Written as anyone would by hand: ORDER BY and LIMIT over whole rows. A check that
    # load_inbox's page (ids first, then those rows) is the same, and what that shape saves.
    statement = text(
        f"SELECT c.*, {overdue} AS is_overdue FROM report_case c WHERE c.municipality_id = :municipality"
        f"{spec.where.format(overdue=overdue)} ORDER BY {spec.order} LIMIT {PAGE_SIZE} OFFSET :offset"
    )

    def run(session: Session) -> list[Any]:
        ack_limit, feedback_limit = overdue_limits(SystemClock().today())
        params = {
            "municipality": municipality_id,
            "offset": (page - 1) * PAGE_SIZE,
            "ack_limit": ack_limit,
            "feedback_limit": feedback_limit,
            **spec.params,
        }
        return list(session.execute(statement, params).all())

    return run


# Each index on the two tables: its key columns and its INCLUDE columns, in order.
INDEX_COLUMNS = text(
    """
    SELECT i.relname,
           array_agg(a.attname ORDER BY k.n) FILTER (WHERE k.n <= x.indnkeyatts),
           array_agg(a.attname ORDER BY k.n) FILTER (WHERE k.n > x.indnkeyatts)
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
    WHERE t.relname IN ('report_case', 'case_code')
    GROUP BY i.relname
    """
)


class StatementCounter:
    """Every statement sent on the engine while `active`, with its parameters (for --explain)."""

    def __init__(self, engine: Engine) -> None:
        self.active = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(
        self, _conn: object, _cursor: object, statement: str, parameters: Any, _context: object, _many: bool
    ) -> None:
        if self.active:
            self.statements.append((statement, parameters))

    def during(self, action: Callable[[], object]) -> list[tuple[str, Any]]:
        self.statements, self.active = [], True
        try:
            action()
        finally:
            self.active = False
        return self.statements


def one_request(factory: sessionmaker[Session], work: Callable[[Session], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    with factory() as session:
        result = work(session)
    return time.perf_counter() - start, result


def run_interleaved(
    factory: sessionmaker[Session], variants: dict[str, Callable[[Session], Any]], runs: int
) -> dict[str, Timings]:
    timings = {label: Timings(label) for label in variants}
    items = list(variants.items())
    for _ in range(WARMUP):
        for _label, work in items:
            one_request(factory, work)
    for index in range(runs):
        shift = index % len(items)
        for label, work in items[shift:] + items[:shift]:
            seconds, _ = one_request(factory, work)
            timings[label].seconds.append(seconds)
    return timings


def explain(engine: Engine, statements: list[tuple[str, Any]]) -> None:
    with engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for statement, parameters in statements:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            print("   " + " ".join(statement.split())[:160] + " ...")
            for (line,) in cursor.fetchall():
                print("      " + line)
        cursor.close()


def measure(url: str, runs: int, show_plans: bool) -> bool:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    counter = StatementCounter(engine)
    with tempfile.TemporaryDirectory() as instance:
        config = _common.bench_config(url, Path(instance), argon2=crypto.TEST_ARGON2)
        with factory() as session:
            # The officer logs in: password, account key, office key (granted from the recovery key at setup).
            account, private_key = check_password(session, config, OFFICER_LOGIN, OFFICER_PASSWORD)
            office_key = office_key_for(session, account, private_key)
            rare = session.scalar(select(Account.id).where(Account.login == RARE_LOGIN))
            home = session.scalar(select(Municipality).where(Municipality.slug == HOME_SLUG))
            counts = dict(
                session.execute(select(Case.municipality_id, func.count()).group_by(Case.municipality_id)).all()
            )
            code_rows = session.scalar(text("SELECT count(*) FROM case_code"))
            table_size = session.scalar(text("SELECT pg_size_pretty(pg_total_relation_size('report_case'))"))
            server = session.scalar(text("SHOW server_version"))
            present = {
                name: (list(keys), list(included or [])) for name, keys, included in session.execute(INDEX_COLUMNS)
            }
            statistics = list(session.scalars(text("SELECT stxname FROM pg_statistic_ext ORDER BY stxname")))
    if office_key is None:
        raise RuntimeError("the bench officer holds no office key")
    if rare is None or home is None:
        raise RuntimeError("the bench municipalities are missing")
    actor = Staff(account, office_key)
    other = sum(counts.values()) - counts[home.id]
    print(
        f"Komm.A inbox bench on PostgreSQL {server} {make_url(url).host}/{make_url(url).database}; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{counts[home.id]} cases in scope + {other} of a neighbouring municipality, {code_rows} case_code rows, "
        f"report_case {table_size}; page size {PAGE_SIZE}; {runs} runs per variant, interleaved"
    )
    # The schema is what the migrations built: an index the models declare but no migration creates yet is named here.
    declared = {
        str(index.name): (
            [column.name for column in index.columns],
            list(index.dialect_options["postgresql"]["include"] or []),
        )
        for table in (Case.__table__, CaseCode.__table__)
        for index in table.indexes
    }
    differing = [name for name, columns in sorted(declared.items()) if present.get(name) != columns]
    print(
        f"indexes the models declare on report_case and case_code: {len(declared)}, "
        f"missing or built otherwise in the database: {', '.join(differing) or 'none'}; "
        f"extended statistics: {', '.join(statistics) or 'none'}"
    )
    print("one run = new Session, the work, close; times p50 / p95; ratio = komma p95 / bare p95\n")

    verdicts: list[tuple[str, str]] = []
    statement_counts: dict[str, int] = {}
    for spec in page_specs(datetime.now(UTC).date(), rare):
        filters = spec.filters

        def komma(session: Session, filters: InboxFilter = filters) -> InboxPage:
            return load_inbox(session, actor, filters, office_key, today=SystemClock().today())

        def bare(session: Session, filters: InboxFilter = filters) -> InboxPage:
            return load_inbox(session, actor, filters, None, today=SystemClock().today())

        _, page = one_request(factory, komma)
        by_hand = hand_sql(spec, home.id, page.page)
        _, bare_page = one_request(factory, bare)
        _, hand_rows = one_request(factory, by_hand)
        ids = [row.case.id for row in page.rows]
        decrypted = sum(1 for row in page.rows if row.summary)
        same = ids == [row.case.id for row in bare_page.rows] == [row.id for row in hand_rows]
        statements = counter.during(
            lambda filters=filters: one_request(
                factory, lambda s: load_inbox(s, actor, filters, office_key, today=SystemClock().today())
            )
        )
        statement_counts[spec.name] = len(statements)
        print(
            f"{spec.name}: {page.total} matching, page {page.page} of {page.pages}, {len(page.rows)} rows, "
            f"{decrypted} summaries decrypted, {len(statements)} statements; same rows in all three: {'yes' if same else 'NO'}"
        )
        if not same or decrypted != len(page.rows):
            verdicts.append(("FAIL", f"{spec.name}: variants disagree or summaries missing"))
        if show_plans:
            explain(engine, statements)
        if spec.role == "count":
            print()
            continue
        timings = run_interleaved(factory, {"bare": bare, "komma": komma, "hand SQL": by_hand}, runs)
        base, mine, plain = timings["bare"], timings["komma"], timings["hand SQL"]
        ratio = mine.p95 / base.p95
        print(f"  {'bare: load_inbox, office_key=None':<40} {ms(base.median)} {ms(base.p95)}")
        print(f"  {'komma: load_inbox, summaries decrypted':<40} {ms(mine.median)} {ms(mine.p95)}   ratio {ratio:5.2f}")
        print(f"  {'hand SQL: plain page statement only':<40} {ms(plain.median)} {ms(plain.p95)}")
        within = ratio <= TARGET_RATIO and mine.p95 < TARGET_P95
        line = f"{spec.name}: p95 {mine.p95 * 1e3:.1f} ms, {ratio:.2f}x bare"
        if spec.role == "target":
            verdicts.append(
                (
                    "PASS" if within else "FAIL",
                    f"{line} (target <= {TARGET_RATIO:.0f}x and < {TARGET_P95 * 1e3:.0f} ms)",
                )
            )
        else:
            verdicts.append(("INFO", f"{line} (no target; {'within' if within else 'outside'} the targets' limits)"))
        print()

    one, full = statement_counts["one row (assigned to the rare officer)"], statement_counts["first page"]
    verdicts.append(
        (
            "PASS" if one == full else "FAIL",
            f"statements per page: {one} for 1 row, {full} for {PAGE_SIZE} rows (must be equal)",
        )
    )
    engine.dispose()
    for verdict, line in verdicts:
        print(f"{verdict} {line}")
    return all(verdict != "FAIL" for verdict, _ in verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default=DEFAULT_URL, help=f"PostgreSQL; wiped unless --reuse (default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--cases", type=int, default=100_000, help="cases of the measured municipality (default 100000)"
    )
    parser.add_argument("--reuse", action="store_true", help="keep the database if it already holds the cases")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each page's statements")
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        raise SystemExit("this bench needs PostgreSQL")
    import_all_models()
    ensure_database(args.database_url)
    if args.reuse and already_seeded(args.database_url, args.cases):
        print("reusing the seeded database")
    else:
        with _common.migrated_database(args.database_url) as database:
            seed(database.url, args.cases)
    sys.exit(0 if measure(args.database_url, args.runs, args.explain) else 1)


if __name__ == "__main__":
    main()
