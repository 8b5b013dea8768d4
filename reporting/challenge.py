"""Proof of work in the intake form and the mailbox login: abuse costs the abuser.

The page carries a challenge; its script (static/js/challenge.js) finds a solution in the
background, about a second on a phone, and sends it with the form. A request with a solved
challenge is always served: no budget that a single client can spend stands in its way. One
without (no JavaScript, an old browser, a script) is still served, from a separate budget of
its own (reporting.flood), so the challenge only decides who pays and how.

Nothing about the client is looked at or kept. A challenge is its issue time, difficulty, a
random nonce and its purpose, tagged with a key derived from KOMMA_SECRET_KEY: the server keeps
nothing until it is used. Then the digest of the challenge is kept until it would have expired
anyway (SpentChallenge), so one solution buys one request, and a copy of it buys nothing.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import crypto
from core.config import Config
from core.db import SessionFactory, session_scope
from reporting.models import SpentChallenge

# A report can take long to write; the page's challenge is solved right after it loads.
LIFETIME = timedelta(hours=6)
# Clocks of several web hosts may differ a little.
SKEW = timedelta(minutes=2)
# Under load (solved requests in the last minute, installation-wide) each step doubles the work:
# an attacker who solves at machine speed pays more, a phone waits a few seconds at worst.
PRESSURE_STEPS = (120, 480)
_LABEL = "proof-of-work"


@dataclass(frozen=True)
class Challenge:
    token: str
    bits: int


def mailbox_purpose() -> str:
    return "mailbox"


def report_purpose(municipality_id: str) -> str:
    return f"report:{municipality_id}"


def _key(config: Config) -> bytes:
    return crypto.derive_subkey(config.secret_key.encode(), _LABEL)


def _tag(config: Config, purpose: str, body: str) -> str:
    tag = crypto.mac(_key(config), _LABEL, f"{purpose}|{body}".encode())
    return base64.urlsafe_b64encode(tag).decode("ascii").rstrip("=")


def required_bits(session: Session, config: Config, now: datetime) -> int:
    """The difficulty now: the configured one, plus one bit per pressure step reached.

    Counted from the used challenges themselves (an index range), not from a counter row that
    every solved request would have to lock.
    """
    solved = session.scalar(
        select(func.count()).select_from(SpentChallenge).where(SpentChallenge.spent_at >= now - timedelta(minutes=1))
    )
    return config.challenge_bits + sum(1 for step in PRESSURE_STEPS if (solved or 0) >= step)


def issue(session: Session, config: Config, purpose: str, now: datetime) -> Challenge:
    """A fresh challenge for one page."""
    bits = min(required_bits(session, config, now), crypto.work.MAX_BITS)
    body = f"{int(now.timestamp())}.{bits}.{secrets.token_urlsafe(16)}"
    return Challenge(f"{body}.{_tag(config, purpose, body)}", bits)


def redeem(factory: SessionFactory, config: Config, purpose: str, token: str, solution: str, now: datetime) -> bool:
    """Whether the request carries a solved, unexpired, unused challenge of this purpose; uses it up.

    Anything else (missing, malformed, forged, expired, already used, wrong purpose) is False, never
    an error: the request is then served as one without a solved challenge. Used up in a
    transaction of its own, committed at once: a request that is refused afterwards (a form with
    errors, a 422 whose transaction is rolled back) has still spent it, so that one solution
    cannot buy a second request.
    """
    if not token or len(token) > 200 or not solution or len(solution) > crypto.work.MAX_SOLUTION_DIGITS:
        return False
    body, _, tag = token.rpartition(".")
    parts = body.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return False
    if not secrets.compare_digest(tag.encode(), _tag(config, purpose, body).encode()):
        return False
    issued, bits = datetime.fromtimestamp(int(parts[0]), tz=now.tzinfo), int(parts[1])
    if not issued - SKEW <= now <= issued + LIFETIME or bits > crypto.work.MAX_BITS:
        return False
    if not crypto.work_done(token.encode("ascii"), solution, bits):
        return False
    try:
        with session_scope(factory) as session:
            session.add(
                SpentChallenge(
                    digest=hashlib.sha256(body.encode()).hexdigest(),
                    spent_at=now,
                    expires_at=issued + LIFETIME + SKEW,
                )
            )
    except IntegrityError:
        return False
    return True


def purge_spent(session: Session, now: datetime) -> int:
    """Forget used challenges that could no longer be redeemed anyway."""
    result = session.execute(delete(SpentChallenge).where(SpentChallenge.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)
