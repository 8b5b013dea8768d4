"""The retention purge crypto-shreds a case completely and keeps only anonymous statistics counts.

A case with everything (files, messages both ways, notes, assessment, a referral with files and
partner feedback, reminders, a mailbox session) is closed and left past the retention period;
another reporter asks for deletion in the mailbox. After `komma jobs run retention` nothing of
either case is left in any table but the audit trail's ids, the statistics read the same, and a
second run purges nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import MetaData, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clearing.audit import service as audit
from clearing.cases import service
from clearing.statistics import service as statistics
from clearing.statistics.models import StatisticsRollup
from core.db import utcnow
from core.models import SecretSession
from reporting.models import Case
from tests.factories import DESCRIPTION, Office, add_office, assess_case, full_case, officer_staff, submit_to_office
from tests.web import csrf_token
from workers.models import OutboxEntry

# The purge is judged on connections of its own and on the SQLite file: only committed data is there.
pytestmark = pytest.mark.committing

AUDIT_TABLES = {"audit_event", "audit_head"}
FOUR_YEARS = timedelta(days=4 * 366)


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    session: Session = app.extensions["komma"].session_factory()
    yield session
    session.rollback()
    session.close()


# Looking at the database as a whole ----------------------------------------------------------------


def reflected(engine: Engine) -> MetaData:
    metadata = MetaData()
    metadata.reflect(engine)
    return metadata


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (reflected: tables no model knows count too)."""
    metadata = reflected(engine)
    with engine.connect() as connection:
        return {t.name: [dict(r._mapping) for r in connection.execute(select(t))] for t in metadata.sorted_tables}


def owned_rows(engine: Engine, case_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The rows that belong to the cases: the case rows and everything reaching them by foreign
    keys (transitively), their server-side sessions, and the outbox rows naming any of them."""
    metadata = reflected(engine)
    tables = {t.name: t for t in metadata.sorted_tables}
    owned: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as connection:

        def add(name: str, rows: list[dict[str, Any]]) -> bool:
            known = owned.setdefault(name, [])
            new = [r for r in rows if r not in known]
            known.extend(new)
            return bool(new)

        add(
            "report_case",
            [
                dict(r._mapping)
                for r in connection.execute(
                    select(tables["report_case"]).where(tables["report_case"].c.id.in_(case_ids))
                )
            ],
        )
        grew = True
        while grew:
            grew = False
            for table in metadata.sorted_tables:
                for fk in table.foreign_keys:
                    parent = fk.column.table.name
                    if parent not in owned:
                        continue
                    values = {row[fk.column.name] for row in owned[parent]} - {None}
                    rows = connection.execute(select(table).where(fk.parent.in_(values))) if values else []
                    grew |= add(table.name, [dict(r._mapping) for r in rows])
        sessions = connection.execute(
            select(tables["secret_session"]).where(tables["secret_session"].c.subject_id.in_(case_ids))
        )
        add("secret_session", [dict(r._mapping) for r in sessions])
        ids = owned_ids(owned)
        add(
            "outbox",
            [dict(r._mapping) for r in connection.execute(select(tables["outbox"])) if set(r.args.values()) & ids],
        )
    return owned


def owned_ids(owned: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {row["id"] for rows in owned.values() for row in rows if isinstance(row.get("id"), str)}


def blobs(rows: dict[str, list[dict[str, Any]]]) -> set[bytes]:
    """Every ciphertext, sealed key, wrapped key and hash in the rows."""
    return {
        bytes(v)
        for rs in rows.values()
        for row in rs
        for v in row.values()
        if isinstance(v, bytes | memoryview) and len(v) >= 16
    }


def leftovers(everything: dict[str, list[dict[str, Any]]], ids: set[str], secrets: set[bytes]) -> list[str]:
    """Where an id of the purged cases (outside the audit trail) or any of their blobs still is."""
    found = []
    for table, rows in everything.items():
        for row in rows:
            for column, value in row.items():
                where = f"{table}.{column}"
                if isinstance(value, bytes | memoryview):
                    data = bytes(value)
                    if any(s in data for s in secrets):
                        found.append(f"{where}: a blob of a purged case")
                elif table not in AUDIT_TABLES:
                    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
                    found.extend(f"{where}: id {i}" for i in ids if i in text)
    return found


def on_disk(engine: Engine, secrets: set[bytes]) -> list[str]:
    """SQLite: the database file and its write-ahead log that still hold a blob (PostgreSQL keeps
    dead rows until VACUUM; that is the database's business, not visible through SQL)."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return []
    found = []
    for suffix in ("", "-wal", "-journal"):
        path = Path(engine.url.database + suffix)
        if path.exists():
            raw = path.read_bytes()
            found += [f"{path.name}: {sum(s in raw for s in secrets)} blobs"] if any(s in raw for s in secrets) else []
    return found


# Arranging ----------------------------------------------------------------------------------------------


def request_deletion_in_the_mailbox(app: Flask, receipt_code: str) -> None:
    client = app.test_client()
    response = client.post("/postfach", data={"csrf_token": csrf_token(client, "/postfach"), "code": receipt_code})
    assert response.status_code == 303
    token = csrf_token(client, "/postfach/ansicht")
    response = client.post("/postfach/loeschen", data={"csrf_token": token, "confirm": "y"})
    assert response.status_code in (200, 303), response.get_data(as_text=True)[:2000]


def statistics_now(db: Session, office: Office) -> dict[tuple[str, str, str], int]:
    """What the statistics pages read: live counts (refreshed now) plus the purged cases' rollup."""
    statistics.refresh(db, office.town.id)
    db.commit()
    return statistics.counts(db, [office.town.id], date(2000, 1, 1), date.today() + timedelta(days=31))


def test_the_retention_purge_leaves_nothing_of_a_case_but_its_statistics(app: Flask, db: Session) -> None:
    config = app.extensions["komma"].config
    engine = app.extensions["komma"].engine
    office = add_office(db, config, "fstadt", alliance=True)
    staff = officer_staff(db, office.town, office.officer)

    # 1: everything, closed.
    everything = full_case(db, config, office)
    # 2: assessed, still open; the reporter asks for deletion in the mailbox.
    deleted = submit_to_office(db, config, office, files=1)
    second = db.get(Case, deleted.case_id)
    assert second is not None
    assess_case(db, staff, second)
    db.commit()
    request_deletion_in_the_mailbox(app, deleted.receipt_code)
    # 3: closed long ago without consent to statistics: purged, never counted.
    uncounted = submit_to_office(db, config, office, statistics=False).case_id
    third = db.get(Case, uncounted)
    assert third is not None
    assess_case(db, staff, third)
    service.change_status(db, staff, third, "closed", "")
    db.commit()
    # 4: closed recently: kept, with all it has.
    kept = submit_to_office(db, config, office, files=1).case_id
    fourth = db.get(Case, kept)
    assert fourth is not None
    assess_case(db, staff, fourth)
    service.change_status(db, staff, fourth, "closed", "")
    db.commit()
    long_ago = utcnow() - FOUR_YEARS
    db.execute(update(Case).where(Case.id.in_([everything.case_id, uncounted])).values(status_changed_at=long_ago))
    db.commit()

    purged = [everything.case_id, deleted.case_id, uncounted]
    before = owned_rows(engine, purged)
    for table in (
        "attachment",
        "case_message",
        "case_note",
        "assessment",
        "assessment_code",
        "referral",
        "referral_file",
        "referral_update",
        "reporter_access",
        "reminder",
        "case_event",
        "secret_session",
        "outbox",
    ):
        assert before.get(table), f"the arrangement has no {table} row of the purged cases"
    assert {m["author"] for m in before["case_message"]} == {"reporter", "office"}
    assert all(r["packet_ciphertext"] for r in before["referral"])
    secrets = blobs(before)
    ids = owned_ids(before)
    kept_before = owned_rows(engine, [kept])
    counts_before = statistics_now(db, office)
    assert counts_before, "nothing counted before the purge"

    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run", "retention"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "retention: 3"
    assert runner.invoke(args=["jobs", "run", "retention"]).output.strip() == "retention: 0"

    # Nothing of the purged cases is left anywhere, in clear or as ciphertext.
    after = dump(engine)
    assert leftovers(after, ids, secrets) == []
    assert on_disk(engine, secrets) == []
    assert blobs(kept_before) <= blobs(after), "the case still within its retention period lost data"
    assert owned_rows(engine, [kept]) == kept_before

    # The statistics read the same: what the purged cases counted now sits in the rollup.
    db.expire_all()
    assert statistics_now(db, office) == counts_before
    month = utcnow().strftime("%Y-%m")
    rollup = {
        (r.dimension, r.code): r.count
        for r in db.scalars(select(StatisticsRollup).where(StatisticsRollup.municipality_id == office.town.id))
    }
    assert {r.month for r in db.scalars(select(StatisticsRollup))} == {month}
    assert rollup == {
        ("cases", "all"): 2,
        ("affected_role", "council_member"): 2,
        ("channel", "public_space"): 2,
        ("urgency", "high"): 2,
        ("incident_type", "threat"): 2,
        ("incident_type", "insult_defamation"): 2,
        ("motive", "racism"): 2,
        ("motive", "misogyny"): 2,
        ("partner_kind", "counselling"): 1,
        ("outcome", "counselling_started"): 1,
    }

    # The audit trail still verifies and records each purge (no content, the id only).
    checked, broken = audit.verify(db)
    assert broken is None
    assert checked > 0
    for case_id in purged:
        events = audit.events_for(db, office.town.id, case_id)
        assert [e.action for e in events if e.action == "case.purged"] == ["case.purged"], case_id
    assert DESCRIPTION not in json.dumps(after["audit_event"], default=str)
    assert not list(db.scalars(select(SecretSession).where(SecretSession.subject_id.in_(purged))))
    assert not [e for e in db.scalars(select(OutboxEntry)) if set(e.args.values()) & ids]
