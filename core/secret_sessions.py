"""Server-side secrets of a browser session, split so neither half alone can read them.

The browser's cookie holds a random token; the server stores only its hash and the secret
encrypted under a key derived from that token. A database dump without the cookie decrypts
nothing, and the cookie without the server row is a random string. Rows expire when idle.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

import crypto
from core.db import utcnow
from core.models import SecretSession


@dataclass(frozen=True)
class OpenedSession:
    subject_id: str
    secret: bytes


def _parts(token: str) -> tuple[bytes, bytes]:
    raw = bytes.fromhex(token)
    # Two independent values from one random token: the row's id and the box key.
    return hashlib.sha256(b"komma/session-id/" + raw).digest(), hashlib.sha256(b"komma/session-key/" + raw).digest()


def create(session: Session, *, purpose: str, subject_id: str, secret: bytes, idle: timedelta) -> str:
    """Store `secret` for `subject_id`; returns the token for the cookie."""
    token = secrets.token_hex(32)
    id_hash, key = _parts(token)
    session.add(
        SecretSession(
            id_hash=id_hash,
            purpose=purpose,
            subject_id=subject_id,
            ciphertext=crypto.box_encrypt(key, secret, purpose=f"session-{purpose}", record_id=subject_id),
            idle_seconds=int(idle.total_seconds()),
            expires_at=utcnow() + idle,
        )
    )
    session.flush()
    return token


def open_session(session: Session, token: str | None, *, purpose: str, touch: bool = True) -> OpenedSession | None:
    """The secret behind a cookie token, or None when missing, expired or tampered with."""
    if not token or len(token) != 64:
        return None
    try:
        id_hash, key = _parts(token)
    except ValueError:
        return None
    row = session.get(SecretSession, id_hash)
    now = utcnow()
    if row is None or row.purpose != purpose:
        return None
    if row.expires_at <= now:
        session.delete(row)
        session.flush()
        return None
    try:
        secret = crypto.box_decrypt(key, row.ciphertext, purpose=f"session-{purpose}", record_id=row.subject_id)
    except crypto.CryptoError:
        return None
    if touch:
        row.expires_at = now + timedelta(seconds=row.idle_seconds)
    return OpenedSession(row.subject_id, secret)


def end(session: Session, token: str | None) -> None:
    """Delete the server half: the cookie's token becomes useless."""
    if not token or len(token) != 64:
        return
    try:
        id_hash, _key = _parts(token)
    except ValueError:
        return
    session.execute(delete(SecretSession).where(SecretSession.id_hash == id_hash))


def end_all_for(session: Session, subject_id: str, purpose: str | None = None) -> None:
    query = delete(SecretSession).where(SecretSession.subject_id == subject_id)
    if purpose:
        query = query.where(SecretSession.purpose == purpose)
    session.execute(query)


def purge_expired(session: Session) -> int:
    result = session.execute(delete(SecretSession).where(SecretSession.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)
