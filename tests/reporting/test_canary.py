"""The canary test: what a reporter types, uploads or sends along leaves nothing readable behind.

A unique string goes into every text field, URL, file name and file content (image metadata too),
the mailbox reply and even the code field; the requests come from a fixed client address with a
unique User-Agent and Referer. Afterwards none of it may appear in any database table, any Redis
key or value (RQ's compressed job data included), the captured logs (ours and a real worker's),
the outbox payloads or any mail. The companion tests plant the canary on purpose to prove that
each of these searches would find it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Config
from core.mail import send_mail
from core.models import Municipality
from tests.conftest import TEST_PEPPER, TEST_SECRET_KEY, make_test_config
from tests.factories import Town, add_town, count_cases, office_view
from tests.leaks import (
    found_in,
    search_database,
    search_database_files,
    search_logs,
    search_mails,
    search_redis,
    search_session_cookie,
)
from tests.reporting import files
from tests.smtp import SmtpServer
from tests.web import (
    MAILBOX,
    MAILBOX_LOGIN,
    csrf_token,
    full_report,
    mailbox_login,
    open_mailbox,
    post_mailbox,
    post_report,
    read_receipt,
)
from tests.workers.conftest import KommaProcess, wait_for
from workers.models import OutboxEntry
from workers.outbox import ID_RE

# A real worker process and the SQLite file itself are searched: only committed data reaches them.
pytestmark = pytest.mark.committing

CLIENT_ADDRESS = "198.51.100.23"
OFFICE_ADDRESS = "clearing@musterstadt.example"


@dataclass(frozen=True)
class Traces:
    """What must not be found anywhere: the canary in its forms, the client's address and headers."""

    # 22 characters: unique, and short enough that libraries print it whole (Pillow logs EXIF
    # strings of up to 32 bytes and only the size of longer ones; a real name or place is short).
    canary: str = field(default_factory=lambda: f"CANARY{uuid4().hex[:16]}")
    user_agent: str = field(default_factory=lambda: f"KommaCanaryBrowser/{uuid4().hex}")
    referrer: str = field(default_factory=lambda: f"https://referrer.example/{uuid4().hex}")
    address: str = CLIENT_ADDRESS

    def needles(self) -> dict[str, bytes]:
        return {
            "canary": self.canary.encode(),
            "canary (lower case)": self.canary.lower().encode(),
            "canary (url-encoded)": quote(self.canary).encode(),
            "client address": self.address.encode(),
            "user agent": self.user_agent.encode(),
            "referrer": self.referrer.encode(),
            "referrer (unique part)": self.referrer.rsplit("/", 1)[1].encode(),
        }


# Fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def jobs(request: pytest.FixtureRequest) -> str | None:
    """How jobs run: inline (no Redis, the embedded default) or through a real Redis and RQ worker."""
    if getattr(request, "param", "inline") == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    return None


@pytest.fixture
def app_config(migrated_database: str, tmp_path: Path, smtp_server: SmtpServer, jobs: str | None) -> Config:
    return make_test_config(migrated_database, tmp_path / "instance", smtp_url=smtp_server.url, redis_url=jobs)


@pytest.fixture
def traces() -> Traces:
    return Traces()


@pytest.fixture
def canary_client(app: Flask, traces: Traces) -> FlaskClient:
    """Every request from the same client address, with a unique User-Agent and Referer."""
    client = app.test_client()
    client.environ_base.update(
        REMOTE_ADDR=traces.address,
        HTTP_USER_AGENT=traces.user_agent,
        HTTP_REFERER=traces.referrer,
        HTTP_X_FORWARDED_FOR=traces.address,
    )
    return client


def start_worker(app_config: Config, smtp_server: SmtpServer, tmp_path: Path) -> KommaProcess:
    """A real `komma worker` process on the test's database, Redis and SMTP server."""
    assert app_config.redis_url
    env = {
        **os.environ,
        "KOMMA_ENV": "development",
        "KOMMA_DATABASE_URL": app_config.database_url,
        "KOMMA_REDIS_URL": app_config.redis_url,
        "KOMMA_SMTP_URL": smtp_server.url,
        "KOMMA_INSTANCE_PATH": str(app_config.instance_path),
        "KOMMA_SECRET_KEY": TEST_SECRET_KEY,
        "KOMMA_RECEIPT_PEPPER": TEST_PEPPER.decode(),
        "KOMMA_ARGON2": "test",
    }
    return KommaProcess(["worker"], env, tmp_path / "worker.log")


# The reporter ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    jpeg: bytes
    png: bytes
    pdf: bytes
    reply_png: bytes


def evidence_with(canary: str, monkeypatch: pytest.MonkeyPatch) -> Evidence:
    """Files whose EXIF, XMP, comments, ICC profile and text chunks (and the PDF's body) carry the canary."""
    monkeypatch.setattr(files, "CANARY", canary)
    monkeypatch.setattr(files, "CANARY_BYTES", canary.encode())
    made = Evidence(
        jpeg=files.jpeg_with_metadata(),
        png=files.png_with_metadata(),
        pdf=files.pdf_with_author(canary),
        reply_png=files.png_with_metadata(files.pattern((40, 30))),
    )
    for data in (made.jpeg, made.png, made.reply_png, made.pdf):
        assert files.canary_anywhere(data)
    return made


def canary_report(canary: str) -> dict[str, Any]:
    return full_report(
        description=f"Beschreibung {canary}",
        place=f"Ort {canary}",
        platform=f"Plattform {canary}",
        urls=f"https://example.org/{canary}\nhttps://example.org/profil?id={canary}",
        perpetrator_description=f"Täter {canary}",
        evidence_found=f"Gesehen {canary}",
        police_reference=f"AZ-{canary}",
        contact="email",
        contact_email=f"{canary}@example.org",
        contact_phone=f"0170 {canary}",
    )


def walk_through_everything(client: FlaskClient, session: Session, town: Town, canary: str, evidence: Evidence) -> None:
    """Everything a reporter can do, with the canary wherever text or a file goes."""
    assert client.get("/").status_code == 200
    uploads = [
        (f"{canary}-beweis.jpg", evidence.jpeg),
        (f"{canary}.png", evidence.png),
        (f"Chat {canary}.pdf", evidence.pdf),
    ]
    # A refused submission first: nothing of it may be kept either.
    refused = post_report(client, town, {**canary_report(canary), "incident_types": None}, uploads)
    assert refused.status_code == 422
    assert count_cases(session) == 0

    response = post_report(client, town, canary_report(canary), uploads)
    assert response.status_code == 303, response.get_data(as_text=True)
    code, _receipt = read_receipt(client, town)

    # The canary typed into the code field: not a code, and not kept.
    wrong = mailbox_login(client, canary)
    assert "Der Code hat 16 Ziffern" in wrong.get_data(as_text=True)

    page = open_mailbox(client, code)
    assert f"{canary}-beweis.jpg" in page
    reply = post_mailbox(
        client, "nachricht", {"body": f"Nachtrag {canary}"}, [(f"{canary}-nachtrag.png", evidence.reply_png)]
    )
    assert reply.status_code == 303
    assert f"Nachtrag {canary}" in client.get(MAILBOX).get_data(as_text=True)
    assert post_mailbox(client, "einwilligungen", {"consent_police": "y", "consent_statistics": "y"}).status_code == 303
    assert post_mailbox(client, "loeschen", {"confirm": "y"}).status_code == 303
    left = client.post("/postfach/verlassen", data={"csrf_token": csrf_token(client, MAILBOX)})
    assert left.status_code == 303
    assert client.get(MAILBOX).headers["Location"].endswith(MAILBOX_LOGIN)


def assert_stored_encrypted(session: Session, town: Town, canary: str) -> None:
    """The office reads it all back: the canary went in, encrypted; image metadata did not survive."""
    view = office_view(session, town)
    assert view.report["description"] == f"Beschreibung {canary}"
    assert view.report["contact_email"] == f"{canary}@example.org"
    assert view.report["urls"] == [f"https://example.org/{canary}", f"https://example.org/profil?id={canary}"]
    assert view.messages == [("reporter", f"Nachtrag {canary}")]
    names = set(view.files)
    assert names == {f"{canary}-beweis.jpg", f"{canary}.png", f"Chat {canary}.pdf", f"{canary}-nachtrag.png"}
    for name, (meta, content) in view.files.items():
        if meta.media_type == "application/pdf":
            assert meta.metadata_warning
            assert canary.encode() in content  # kept as sent, with a warning to the reporter
        else:
            assert not files.canary_anywhere(content), name


def wait_for_jobs(app: Flask, worker: KommaProcess | None) -> list[OutboxEntry]:
    factory = app.extensions["komma"].session_factory

    def entries() -> list[OutboxEntry]:
        with factory() as session:
            return list(session.scalars(select(OutboxEntry)))

    def all_done() -> bool:
        return all(entry.completed_at is not None for entry in entries())

    if worker is not None:
        wait_for(all_done, "the outbox jobs", worker, timeout=30)
    done = entries()
    assert done
    assert all(entry.completed_at is not None and entry.last_error is None for entry in done), [
        (e.job, e.last_error) for e in done
    ]
    return done


# The tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["inline", pytest.param("redis", marks=pytest.mark.redis)], indirect=True)
def test_nothing_typed_uploaded_or_sent_along_is_left_readable(
    app: Flask,
    app_config: Config,
    canary_client: FlaskClient,
    session: Session,
    smtp_server: SmtpServer,
    traces: Traces,
    jobs: str | None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = traces.canary
    town = add_town(session, notify_email=OFFICE_ADDRESS)
    evidence = evidence_with(canary, monkeypatch)
    caplog.clear()  # what building the test files logged is not the server's doing
    worker = start_worker(app_config, smtp_server, tmp_path) if jobs else None
    try:
        walk_through_everything(canary_client, session, town, canary, evidence)
        entries = wait_for_jobs(app, worker)
        mails = smtp_server.wait_for(len(entries))
    finally:
        if worker is not None:
            worker.stop()
    worker_log = [worker.output()] if worker is not None else []
    if worker is not None:
        assert "run_outbox_entry" in worker_log[0], "the jobs did not run in the worker process"

    # The jobs carried ids only, and every one of them mailed the office that something waits.
    assert sorted(entry.job for entry in entries) == [
        "notify_case_activity",
        "notify_case_activity",
        "notify_case_activity",
        "notify_new_report",
    ]
    case_ids = {entry.args["case_id"] for entry in entries}
    assert len(case_ids) == 1
    for entry in entries:
        assert list(entry.args) == ["case_id"]
        assert all(isinstance(value, str) and ID_RE.fullmatch(value) for value in entry.args.values())
    assert len(mails) == len(entries)
    assert all(mail.rcpt_tos == (OFFICE_ADDRESS,) for mail in mails)
    assert any("Neue Meldung" in mail.subject and "wartet eine neue Meldung" in mail.text for mail in mails)
    assert all("keine Inhalte" in mail.text for mail in mails)

    assert_stored_encrypted(session, town, canary)
    session.close()

    needles = traces.needles()
    leaks = [
        *search_database(app, needles),
        *search_database_files(app, needles),
        *search_logs(caplog, worker_log, needles),
        *search_mails(mails, needles),
        *search_session_cookie(app, canary_client, needles),
        *(f"outbox {entry.id}: {labels}" for entry in entries if (labels := found_in(json.dumps(entry.args), needles))),
    ]
    if jobs:
        redis_hits, key_count = search_redis(jobs, needles)
        assert key_count > 0, "RQ left no keys: the Redis search searched nothing"
        # The search reaches into RQ's job data, which is compressed: the outbox id the job carried is found.
        job_data = Redis.from_url(jobs)
        try:
            data = job_data.hget(f"rq:job:outbox-{entries[0].id}", "data")
        finally:
            job_data.close()
        assert data is not None
        assert entries[0].id.encode() not in data
        assert found_in(data, {"outbox id": entries[0].id.encode()}) == ["outbox id"]
        leaks += redis_hits
    assert leaks == []


def test_every_search_finds_a_planted_canary(
    app: Flask, session: Session, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Without this, an empty result above could mean a search that looks nowhere."""
    caplog.set_level(logging.DEBUG)
    # Its own address: what is planted here must not be found by the file search of another test.
    traces = Traces(address="203.0.113.99")
    needles = traces.needles()
    assert search_database(app, needles) == []

    town = add_town(session)
    row = session.get(Municipality, town.id)
    assert row is not None
    row.office_name = f"Büro {traces.canary.lower()}"  # a text column, lower case
    row.office_public_key = b"\x00\xff" + traces.canary.encode()  # a LargeBinary column
    session.commit()
    hits = search_database(app, needles)
    assert any("municipality.office_name" in hit and "canary (lower case)" in hit for hit in hits)
    assert any("municipality.office_public_key" in hit for hit in hits)
    if app.extensions["komma"].engine.dialect.name == "sqlite":
        assert any("database file" in hit for hit in search_database_files(app, needles))
    row.office_public_key = None
    row.notify_email = traces.address
    session.commit()
    assert any("client address" in hit for hit in search_database(app, needles))
    row.notify_email = quote(traces.user_agent)
    session.commit()
    assert any("user agent" in hit for hit in search_database(app, needles))

    logging.getLogger("komma.test").debug("request from %s", traces.referrer)
    assert any("referrer" in hit for hit in search_logs(caplog, [], needles))
    assert search_logs(caplog, [f"worker: {traces.canary}"], needles)

    send_mail(app.extensions["komma"].config, "office@example.org", "Betreff", f"Inhalt {traces.canary}")
    assert search_mails(smtp_server.wait_for(1), needles)


def test_redis_search_finds_a_planted_canary_in_every_type(redis_url: str) -> None:
    traces = Traces(address="203.0.113.99")
    needles = traces.needles()
    plain = f"x {traces.canary} y".encode()
    connection = Redis.from_url(redis_url)
    try:
        connection.set("planted:string", zlib.compress(plain))  # as RQ stores a job's data
        connection.hset("planted:hash", mapping={"data": base64.b64encode(b"nothing"), traces.address: b"1"})
        connection.rpush("planted:list", b"a", plain)
        connection.sadd("planted:set", traces.user_agent)
        connection.zadd("planted:zset", {traces.referrer: 1.0})
        connection.xadd("planted:stream", {"field": plain})
        hits, count = search_redis(redis_url, needles)
    finally:
        connection.close()
    assert count == 6
    where = " ".join(hits)
    for key in ("string", "hash", "list", "set", "zset", "stream"):
        assert f"planted:{key}'" in where, key


def test_found_in_reads_compressed_and_case_folded_data(traces: Traces) -> None:
    needles = traces.needles()
    assert found_in(zlib.compress(traces.canary.encode()), needles) == [
        "canary",
        "canary (lower case)",
        "canary (url-encoded)",
    ]
    assert "user agent" in found_in(traces.user_agent.upper(), needles)
    assert found_in(b"nothing here", needles) == []
    assert re.fullmatch(r"CANARY[0-9a-f]{16}", traces.canary)


def test_wait_for_mails_fails_clearly_when_none_arrive(smtp_server: SmtpServer) -> None:
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match="expected 1 mails"):
        smtp_server.wait_for(1, timeout=0.2)
    assert time.monotonic() - started < 5
