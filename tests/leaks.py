"""Looking for what must not be kept: every row of the database, the SQLite file, Redis, logs,
mails and the session cookie, searched for planted needles (a canary, a code, a client address).

The database is read through the app's own session factory, so a test whose transaction is rolled
back at its end is searched as it stands, uncommitted rows included.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import MetaData, select, text

from core.db import Base
from tests.factories import new_session
from tests.smtp import ReceivedMail

Dump = dict[str, list[dict[str, Any]]]


def dump_database(app: Flask) -> Dump:
    """Every row of every table in the database (reflected, so tables the models do not know count too)."""
    metadata = MetaData()
    with new_session(app) as session:
        connection = session.connection()
        metadata.reflect(connection)
        return {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in metadata.sorted_tables
        }


def dump_values(dump: Dump) -> list[Any]:
    return [value for rows in dump.values() for row in rows for value in row.values()]


def dump_contains(dump: Dump, needle: str) -> list[str]:
    """Where a text appears in a dump (as text or as UTF-8 bytes), as "table.column" names."""
    found = []
    for table, rows in dump.items():
        for row in rows:
            for column, value in row.items():
                if (isinstance(value, str) and needle in value) or (
                    isinstance(value, bytes | memoryview) and needle.encode() in bytes(value)
                ):
                    found.append(f"{table}.{column}")
    return found


def found_in(data: bytes | str, needles: dict[str, bytes]) -> list[str]:
    """The needles in `data`: raw, as latin-1 text, and inside any zlib stream (RQ compresses job data)."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    haystacks = [raw]
    with contextlib.suppress(zlib.error):
        haystacks.append(zlib.decompress(raw))
    # Case-folded: a lower- or upper-cased copy of the canary counts as the canary.
    folded = [hay.lower() for hay in haystacks]
    return sorted({label for label, needle in needles.items() for hay in folded if needle.lower() in hay})


def as_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return str(value).encode()


def search_database(app: Flask, needles: dict[str, bytes]) -> list[str]:
    """Every column of every row of every table the models know."""
    hits = []
    with new_session(app) as session:
        connection = session.connection()
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    data = as_bytes(value)
                    if data is not None and (labels := found_in(data, needles)):
                        hits.append(f"table {table.name}.{column}: {labels}")
    return hits


def search_database_files(app: Flask, needles: dict[str, bytes]) -> list[str]:
    """SQLite: the file and its write-ahead log as bytes, so deleted or overwritten rows count too.

    Only what was committed reaches the file: a test searching it commits (the `committing` marker).
    """
    engine = app.extensions["komma"].engine
    if engine.dialect.name != "sqlite":
        return []
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
    path = Path(str(engine.url.database))
    hits = []
    for each in (path, path.with_name(path.name + "-wal")):
        if each.exists() and (labels := found_in(each.read_bytes(), needles)):
            hits.append(f"database file {each.name}: {labels}")
    return hits


def redis_values(connection: Redis, key: bytes) -> list[bytes]:
    kind = connection.type(key).decode()
    if kind == "string":
        return [connection.get(key) or b""]
    if kind == "hash":
        return [b for pair in connection.hgetall(key).items() for b in pair]
    if kind == "list":
        return list(connection.lrange(key, 0, -1))
    if kind == "set":
        return list(connection.smembers(key))
    if kind == "zset":
        return [member for member, _score in connection.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        return [b for _id, entry in connection.xrange(key) for pair in entry.items() for b in pair]
    return [f"unknown redis type {kind}".encode()]


def search_redis(url: str, needles: dict[str, bytes]) -> tuple[list[str], int]:
    """Every key and value of every type in the test database; returns the hits and how many keys."""
    connection = Redis.from_url(url)
    try:
        keys = list(connection.scan_iter(count=1000))
        hits = []
        for key in keys:
            for value in [key, *redis_values(connection, key)]:
                if labels := found_in(value, needles):
                    hits.append(f"redis {key!r}: {labels}")
        return hits, len(keys)
    finally:
        connection.close()


def search_logs(caplog: pytest.LogCaptureFixture, extra: list[str], needles: dict[str, bytes]) -> list[str]:
    texts = [caplog.text, *(record.getMessage() for record in caplog.records), *extra]
    return [f"log: {labels}" for each in texts if (labels := found_in(each, needles))]


def search_mails(mails: list[ReceivedMail], needles: dict[str, bytes]) -> list[str]:
    hits = []
    for mail in mails:
        for part in (mail.raw, mail.text, mail.subject, mail.mail_from, *mail.rcpt_tos):
            if labels := found_in(part, needles):
                hits.append(f"mail to {mail.rcpt_tos}: {labels}")
    return hits


def search_session_cookie(app: Flask, client: FlaskClient, needles: dict[str, bytes]) -> list[str]:
    """The browser's half: signed, not encrypted, so it must not carry anything typed either."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return []
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    decoded = json.dumps(serializer.loads(cookie.value), default=str)
    return [f"session cookie: {labels}" for each in (cookie.value, decoded) if (labels := found_in(each, needles))]
