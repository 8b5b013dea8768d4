"""The audit trail: append-only events, each chained to the previous one by hash. Never content.

One chain per municipality (and one for the network), so appends in different municipalities
do not wait for each other. A head row per chain, locked while appending, keeps the chain linear
under concurrency and makes a deleted last event detectable."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.audit.models import GENESIS, AuditEvent, AuditHead
from core.db import utcnow

NETWORK_CHAIN = "network"


def _digest(
    prev_hash: bytes,
    chain: str,
    seq: int,
    at: datetime,
    actor_id: str | None,
    actor_role: str,
    action: str,
    target_id: str | None,
    detail: str | None,
) -> bytes:
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    body = json.dumps([chain, seq, stamp, actor_id, actor_role, action, target_id, detail], separators=(",", ":"))
    return hashlib.sha256(prev_hash + body.encode()).digest()


def record(
    session: Session,
    *,
    chain: str,
    action: str,
    actor_id: str | None,
    actor_role: str,
    target_id: str | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Append one event to a chain in the caller's transaction."""
    head = session.scalar(select(AuditHead).where(AuditHead.chain == chain).with_for_update())
    if head is None:
        head = AuditHead(chain=chain, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    at = utcnow()
    seq = head.seq + 1
    digest = _digest(head.hash, chain, seq, at, actor_id, actor_role, action, target_id, detail)
    event = AuditEvent(
        chain=chain,
        seq=seq,
        at=at,
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        target_id=target_id,
        detail=detail,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(event)
    head.seq, head.hash = seq, digest
    session.flush()
    return event


@dataclass(frozen=True)
class BrokenLink:
    chain: str
    seq: int
    reason: str


def verify(session: Session, chain: str | None = None) -> tuple[int, BrokenLink | None]:
    """(events checked, first broken link or None) over one chain or all."""
    heads = session.scalars(
        select(AuditHead).order_by(AuditHead.chain)
        if chain is None
        else select(AuditHead).where(AuditHead.chain == chain)
    ).all()
    checked = 0
    for head in heads:
        prev, expected_seq = GENESIS, 1
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.chain == head.chain).order_by(AuditEvent.seq, AuditEvent.id)
        )
        for event in events:
            checked += 1
            if event.seq != expected_seq:
                return checked, BrokenLink(head.chain, expected_seq, "event missing or out of order")
            if event.prev_hash != prev:
                return checked, BrokenLink(head.chain, event.seq, "does not follow the previous event")
            digest = _digest(
                prev,
                event.chain,
                event.seq,
                event.at,
                event.actor_id,
                event.actor_role,
                event.action,
                event.target_id,
                event.detail,
            )
            if digest != event.hash:
                return checked, BrokenLink(head.chain, event.seq, "event was changed")
            prev, expected_seq = event.hash, expected_seq + 1
        if head.seq != expected_seq - 1 or head.hash != prev:
            return checked, BrokenLink(head.chain, expected_seq, "events missing at the end")
    return checked, None


def events_for(session: Session, chain: str, target_id: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.chain == chain, AuditEvent.target_id == target_id)
            .order_by(AuditEvent.seq)
        )
    )


class _Actor(Protocol):
    @property
    def role(self) -> str: ...

    @property
    def account(self) -> Any: ...


def record_by(
    session: Session, actor: _Actor, *, chain: str, action: str, target_id: str | None = None, detail: str | None = None
) -> AuditEvent:
    """record() for a logged-in staff member (core.staff.Staff)."""
    return record(
        session,
        chain=chain,
        action=action,
        actor_id=actor.account.id,
        actor_role=actor.role,
        target_id=target_id,
        detail=detail,
    )
