"""The audit trail: append-only events, each chained to the previous one by a keyed hash. Never content.

One chain per municipality (and one for the network), so appends in different municipalities
do not wait for each other. A head row per chain, locked while appending, keeps the chain linear
under concurrency and makes a deleted last event detectable.

Each event's hash is an HMAC-SHA256 under the audit key (KOMMA_AUDIT_KEY), which is never in
the database: whoever can write the database cannot recompute a changed event and everything
after it. The key reaches every session of the app through `session.info` (core.db.AUDIT_KEY_INFO).

The "registry" chain records every chain when it begins, so a whole chain deleted (events and
head) is noticed. What the database alone cannot show is a tail cut off together with its
head (the registry's included): anchors, a MACed list of every chain's head written daily to a
file the operator ships elsewhere, with its SHA-256 mailed to the coordinators, make that
visible (`verify(..., anchor=...)`).

Events written before the chains were keyed (migration 0015) keep their unkeyed hashes: the
registry records where each such legacy part ends and with which hash, so it cannot be
rewritten afterwards either; it is never re-hashed with the key, which would launder whatever
happened to it before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import crypto
from clearing.audit.models import GENESIS, AuditEvent, AuditHead
from core.db import AUDIT_KEY_INFO, utcnow

NETWORK_CHAIN = "network"
# The chain of chains: one "chain.registered" (or, for a chain begun before keying, "chain.adopted")
# event per chain. No municipality id can be called so (ids are 32 hex digits).
REGISTRY_CHAIN = "registry"
_EVENT_LABEL = "audit-event"
_ANCHOR_LABEL = "audit-anchor"
ANCHOR_VERSION = 1


class AuditKeyMissing(RuntimeError):
    """The session carries no audit key: it was not made by the app's session factory."""


class AnchorInvalid(ValueError):
    """An anchor file that is not one this installation wrote (unreadable, or its MAC does not verify)."""


def _key(session: Session) -> bytes:
    key = session.info.get(AUDIT_KEY_INFO)
    if not isinstance(key, bytes) or len(key) < 32:
        raise AuditKeyMissing("the session has no audit key; use the app's session factory")
    return key


def _body(
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
    return json.dumps(
        [chain, seq, stamp, actor_id, actor_role, action, target_id, detail], separators=(",", ":")
    ).encode()


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
    """The unkeyed hash of the events written before the chains were keyed (legacy parts only)."""
    return hashlib.sha256(prev_hash + _body(chain, seq, at, actor_id, actor_role, action, target_id, detail)).digest()


def _fields(
    event: AuditEvent,
) -> tuple[str, int, datetime, str | None, str, str, str | None, str | None]:
    """What an event's hash covers, in the order _body writes it."""
    return (
        event.chain,
        event.seq,
        event.at,
        event.actor_id,
        event.actor_role,
        event.action,
        event.target_id,
        event.detail,
    )


def _tag(key: bytes, prev_hash: bytes, event: AuditEvent) -> bytes:
    return crypto.mac(key, _EVENT_LABEL, prev_hash + _body(*_fields(event)))


def _append(
    session: Session,
    key: bytes,
    head: AuditHead,
    *,
    action: str,
    actor_id: str | None,
    actor_role: str,
    target_id: str | None,
    detail: str | None,
) -> AuditEvent:
    seq = head.seq + 1
    event = AuditEvent(
        chain=head.chain,
        seq=seq,
        at=utcnow(),
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        target_id=target_id,
        detail=detail,
        prev_hash=head.hash,
    )
    event.hash = _tag(key, head.hash, event)
    session.add(event)
    head.seq, head.hash = seq, event.hash
    session.flush()
    return event


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
    """Append one event to a chain in the caller's transaction (a new chain is registered first)."""
    key = _key(session)
    head = session.scalar(select(AuditHead).where(AuditHead.chain == chain).with_for_update())
    if head is None:
        head = AuditHead(chain=chain, seq=0, hash=GENESIS, legacy_seq=0)
        session.add(head)
        session.flush()
        if chain != REGISTRY_CHAIN:
            _register(session, key, head)
    elif head.legacy_seq and session.get(AuditHead, REGISTRY_CHAIN) is None:
        # The first keyed event of an installation whose chains began before keying.
        open_registry(session)
    return _append(
        session,
        key,
        head,
        action=action,
        actor_id=actor_id,
        actor_role=actor_role,
        target_id=target_id,
        detail=detail,
    )


def _legacy_detail(session: Session, head: AuditHead) -> str:
    """Where a chain's unkeyed part ends: "<seq>:<its hash, base64url>" (fits the 64-character detail)."""
    end = session.scalar(
        select(AuditEvent.hash).where(AuditEvent.chain == head.chain, AuditEvent.seq == head.legacy_seq)
    )
    end_hash = end if end is not None else head.hash
    return f"{head.legacy_seq}:{base64.urlsafe_b64encode(end_hash).decode().rstrip('=')}"


def _register(session: Session, key: bytes, head: AuditHead) -> None:
    registry = session.scalar(select(AuditHead).where(AuditHead.chain == REGISTRY_CHAIN).with_for_update())
    if registry is None:
        open_registry(session)
        return
    _register_in(session, key, registry, head)


def _register_in(session: Session, key: bytes, registry: AuditHead, head: AuditHead) -> None:
    legacy = head.legacy_seq > 0
    _append(
        session,
        key,
        registry,
        action="chain.adopted" if legacy else "chain.registered",
        actor_id=None,
        actor_role="system",
        target_id=head.chain,
        detail=_legacy_detail(session, head) if legacy else None,
    )


def open_registry(session: Session) -> bool:
    """Begin the registry of chains if there is none, registering every chain there is; whether it began.

    Runs once per installation: at the first event of a new one, or on an upgraded one at its
    first keyed event, its first `komma audit anchor` or its first daily check.
    """
    key = _key(session)
    if session.scalar(select(AuditHead).where(AuditHead.chain == REGISTRY_CHAIN).with_for_update()) is not None:
        return False
    registry = AuditHead(chain=REGISTRY_CHAIN, seq=0, hash=GENESIS, legacy_seq=0)
    session.add(registry)
    session.flush()
    for head in session.scalars(select(AuditHead).where(AuditHead.chain != REGISTRY_CHAIN).order_by(AuditHead.chain)):
        _register_in(session, key, registry, head)
    return True


@dataclass(frozen=True)
class BrokenLink:
    chain: str
    seq: int
    reason: str


@dataclass(frozen=True)
class _Registered:
    legacy_seq: int
    legacy_hash: bytes | None


def _parse_legacy(detail: str | None) -> _Registered | None:
    seq, _, encoded = (detail or "").partition(":")
    try:
        return _Registered(int(seq), base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except ValueError:
        return None


def _check_chain(
    session: Session, key: bytes, head: AuditHead, registered: _Registered, seen: list[AuditEvent] | None = None
) -> tuple[int, BrokenLink | None]:
    """(events read, first broken link) of one chain; `seen` collects its events (the registry's)."""
    checked, prev, expected_seq = 0, GENESIS, 1
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.chain == head.chain).order_by(AuditEvent.seq, AuditEvent.id)
    )
    for event in events:
        checked += 1
        if event.seq != expected_seq:
            return checked, BrokenLink(head.chain, expected_seq, "event missing or out of order")
        if event.prev_hash != prev:
            return checked, BrokenLink(head.chain, event.seq, "does not follow the previous event")
        # Legacy events keep their unkeyed hash; everything after them is keyed.
        legacy = event.seq <= registered.legacy_seq
        expected = _digest(prev, *_fields(event)) if legacy else _tag(key, prev, event)
        if not hmac.compare_digest(expected, event.hash):
            return checked, BrokenLink(head.chain, event.seq, "event was changed")
        if event.seq == registered.legacy_seq and registered.legacy_hash not in (None, event.hash):
            return checked, BrokenLink(head.chain, event.seq, "event was changed before the chain was keyed")
        if seen is not None:
            seen.append(event)
        prev, expected_seq = event.hash, expected_seq + 1
    if head.seq != expected_seq - 1 or head.hash != prev or expected_seq - 1 < registered.legacy_seq:
        return checked, BrokenLink(head.chain, expected_seq, "events missing at the end")
    return checked, None


def _read_registry(
    session: Session, key: bytes, heads: dict[str, AuditHead]
) -> tuple[int, BrokenLink | None, dict[str, _Registered]]:
    """The registered chains, after checking the registry chain itself and that it matches the heads."""
    registry = heads.get(REGISTRY_CHAIN)
    if registry is None:
        # No registry yet: fine only on an installation upgraded from unkeyed chains that has
        # written no keyed event since (every chain still wholly legacy), or one with no chain at all.
        for head in heads.values():
            if head.legacy_seq == 0 or head.seq != head.legacy_seq:
                return 0, BrokenLink(REGISTRY_CHAIN, 1, "the registry of chains is missing"), {}
        return 0, None, {name: _Registered(head.legacy_seq, None) for name, head in heads.items()}
    entries: list[AuditEvent] = []
    checked, broken = _check_chain(session, key, registry, _Registered(0, None), entries)
    if broken is not None:
        return checked, broken, {}
    registered: dict[str, _Registered] = {}
    for entry in entries:
        name = entry.target_id or ""
        parsed = _Registered(0, None) if entry.action == "chain.registered" else _parse_legacy(entry.detail)
        if entry.action not in ("chain.registered", "chain.adopted") or parsed is None or name in registered:
            return checked, BrokenLink(REGISTRY_CHAIN, entry.seq, "not a registration"), {}
        registered[name] = parsed
    for name in sorted(set(heads) | set(registered)):
        if name == REGISTRY_CHAIN:
            continue
        if name not in registered:
            return checked, BrokenLink(name, 1, "chain is not in the registry"), {}
        if name not in heads:
            return checked, BrokenLink(name, 1, "chain was deleted"), {}
    return checked, None, registered


def verify(session: Session, chain: str | None = None, anchor: Anchor | None = None) -> tuple[int, BrokenLink | None]:
    """(events checked, first broken link or None) over one chain or all; against an anchor if given."""
    key = _key(session)
    heads = {head.chain: head for head in session.scalars(select(AuditHead).order_by(AuditHead.chain))}
    checked, broken, registered = _read_registry(session, key, heads)
    if broken is not None:
        return checked, broken
    # The registry itself was checked above.
    names = sorted(n for n in heads if n != REGISTRY_CHAIN) if chain is None else [chain] if chain in registered else []
    for name in names:
        head = heads[name]
        count, broken = _check_chain(session, key, head, registered[name])
        checked += count
        if broken is not None:
            return checked, broken
        if REGISTRY_CHAIN in heads and head.seq == 0:
            return checked, BrokenLink(name, 1, "chain was emptied")
    if anchor is not None:
        broken = _check_anchor(session, anchor, heads, None if chain is None else {chain, REGISTRY_CHAIN})
    return checked, broken


# Anchors ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """Every chain's head at one instant, MACed under the audit key; kept outside the database."""

    at: datetime
    heads: dict[str, tuple[int, bytes]]

    @property
    def events(self) -> int:
        return sum(seq for seq, _hash in self.heads.values())


def _anchor_body(at: datetime, heads: dict[str, tuple[int, bytes]]) -> dict[str, Any]:
    return {
        "version": ANCHOR_VERSION,
        "at": at.astimezone(UTC).isoformat(),
        "chains": {name: {"seq": seq, "hash": digest.hex()} for name, (seq, digest) in sorted(heads.items())},
    }


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def make_anchor(session: Session, now: datetime) -> tuple[Anchor, bytes]:
    """The anchor of every chain's current head and its file content (JSON with a MAC).

    Opens the registry first if the installation has none, so the anchor carries it too.
    """
    key = _key(session)
    open_registry(session)
    heads = {head.chain: (head.seq, head.hash) for head in session.scalars(select(AuditHead))}
    body = _anchor_body(now, heads)
    body["mac"] = crypto.mac(key, _ANCHOR_LABEL, _canonical(body)).hex()
    return Anchor(now, heads), json.dumps(body, indent=1, sort_keys=True).encode() + b"\n"


def read_anchor(session: Session, content: bytes) -> Anchor:
    """The anchor in a file this installation wrote; AnchorInvalid for anything else."""
    key = _key(session)
    try:
        body = json.loads(content)
        tag = bytes.fromhex(body.pop("mac"))
        if body.get("version") != ANCHOR_VERSION:
            raise AnchorInvalid("unknown anchor version")
        heads = {name: (int(h["seq"]), bytes.fromhex(h["hash"])) for name, h in body["chains"].items()}
        at = datetime.fromisoformat(body["at"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise AnchorInvalid("not an audit anchor") from error
    if not crypto.verify_mac(key, _ANCHOR_LABEL, _canonical(body), tag):
        raise AnchorInvalid("the anchor's MAC does not verify (another key, or the file was changed)")
    return Anchor(at, heads)


def anchor_digest(content: bytes) -> str:
    """What the coordinators' mail carries: SHA-256 of the anchor file, so a file forged later stands out."""
    return hashlib.sha256(content).hexdigest()


def _check_anchor(
    session: Session, anchor: Anchor, heads: dict[str, AuditHead], only: set[str] | None
) -> BrokenLink | None:
    """Every anchored chain still reaches the anchored event, with the anchored hash (chains checked intact)."""
    for name, (seq, digest) in sorted(anchor.heads.items()):
        if only is not None and name not in only:
            continue
        head = heads.get(name)
        if head is None:
            return BrokenLink(name, 1, "chain deleted since the anchor")
        if head.seq < seq:
            return BrokenLink(name, head.seq + 1, "events missing since the anchor")
        if seq == 0:
            continue
        stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.chain == name, AuditEvent.seq == seq))
        if stored is None or not hmac.compare_digest(stored, digest):
            return BrokenLink(name, seq, "differs from the anchor")
    return None


def event_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


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
