"""The audit chains are keyed, registered and anchored (issue 13, item 9).

Each attack is made as someone who can write the database but does not hold KOMMA_AUDIT_KEY:
they recompute the unkeyed hashes, move heads back, delete whole chains. verify() must notice,
and a cut-off tail (which the database alone cannot show) must be noticed against an anchor.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from clearing.audit import anchors
from clearing.audit import service as audit
from clearing.audit.models import GENESIS, AuditEvent, AuditHead
from clearing.cases import jobs as case_jobs
from clearing.cases.models import Reminder
from core.db import utcnow
from tests.factories import Town, config_of

ACTIONS = ("case.viewed", "message.sent", "note.added", "case.transition", "case.assigned")


def _write_chain(session: Session, chain: str, count: int = len(ACTIONS)) -> list[AuditEvent]:
    for action in ACTIONS[:count]:
        audit.record(session, chain=chain, action=action, actor_id=None, actor_role="officer", detail="received")
    session.commit()
    return _events(session, chain)


def _events(session: Session, chain: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)))


def _rehash_unkeyed(session: Session, chain: str, events: list[AuditEvent], start: int) -> None:
    """What a forger with the database but not the key does: recompute every hash from `start` on."""
    prev = events[start - 1].prev_hash
    for event in events[start - 1 :]:
        digest = audit._digest(
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
        session.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(prev_hash=prev, hash=digest))
        prev = digest
    session.execute(update(AuditHead).where(AuditHead.chain == chain).values(hash=prev))


def _truncate(session: Session, chain: str, keep: int) -> None:
    """Cut the chain after `keep` events and move its head back to match: consistent in itself."""
    events = _events(session, chain)
    session.execute(delete(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq > keep))
    session.execute(update(AuditHead).where(AuditHead.chain == chain).values(seq=keep, hash=events[keep - 1].hash))


def _delete_chain(session: Session, chain: str) -> None:
    session.execute(delete(AuditEvent).where(AuditEvent.chain == chain))
    session.execute(delete(AuditHead).where(AuditHead.chain == chain))


def _anchor_file(app: Flask, path: Path) -> Path:
    result = app.test_cli_runner().invoke(args=["audit", "anchor", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _verify_cli(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify", *args])
    return result.exit_code, result.output


# (a) a consistent rewrite -------------------------------------------------------------------------------


def test_a_consistent_unkeyed_rewrite_is_detected(app: Flask, session: Session, town_a: Town) -> None:
    events = _write_chain(session, town_a.id)
    assert audit.verify(session)[1] is None

    # Change event 2's detail, then recompute its hash, every later hash and the head, without the key.
    session.execute(update(AuditEvent).where(AuditEvent.id == events[1].id).values(detail="closed"))
    session.expire_all()
    _rehash_unkeyed(session, town_a.id, _events(session, town_a.id), start=2)
    session.commit()

    assert audit.verify(session)[1] == audit.BrokenLink(town_a.id, 2, "event was changed")
    code, output = _verify_cli(app)
    assert code != 0
    assert f"chain {town_a.id}, event 2: event was changed" in output


def test_passing_a_rewritten_chain_off_as_unkeyed_legacy_is_detected(session: Session, town_a: Town) -> None:
    """The forger also claims the whole chain was written before keying: the keyed registry says otherwise."""
    _write_chain(session, town_a.id)
    session.execute(update(AuditEvent).where(AuditEvent.chain == town_a.id, AuditEvent.seq == 3).values(detail="x"))
    session.expire_all()
    _rehash_unkeyed(session, town_a.id, _events(session, town_a.id), start=1)
    session.execute(update(AuditHead).where(AuditHead.chain == town_a.id).values(legacy_seq=len(ACTIONS)))
    session.commit()

    assert audit.verify(session)[1] == audit.BrokenLink(town_a.id, 1, "event was changed")


# (b) a truncated tail with its head moved back ------------------------------------------------------------


def test_a_cut_off_tail_with_a_moved_head_fails_against_the_last_anchor(
    app: Flask, session: Session, town_a: Town, tmp_path: Path
) -> None:
    _write_chain(session, town_a.id)
    anchor = _anchor_file(app, tmp_path / "anchor.json")

    _truncate(session, town_a.id, keep=3)
    session.commit()

    # The database alone is consistent again: this is what the anchor is for.
    assert audit.verify(session)[1] is None
    with_anchor = audit.read_anchor(session, anchor.read_bytes())
    assert audit.verify(session, anchor=with_anchor)[1] == audit.BrokenLink(
        town_a.id, 4, "events missing since the anchor"
    )
    code, output = _verify_cli(app, "--anchor", str(anchor))
    assert code != 0
    assert f"chain {town_a.id}, event 4: events missing since the anchor" in output


def test_a_chain_deleted_with_its_registration_fails_against_the_last_anchor(
    app: Flask, session: Session, town_a: Town, tmp_path: Path
) -> None:
    """The whole chain and the registry's last entry (its registration) gone, the registry's head moved back."""
    _write_chain(session, audit.NETWORK_CHAIN, 2)
    _write_chain(session, town_a.id)
    anchor = _anchor_file(app, tmp_path / "anchor.json")
    registry = _events(session, audit.REGISTRY_CHAIN)
    assert registry[-1].target_id == town_a.id

    _delete_chain(session, town_a.id)
    _truncate(session, audit.REGISTRY_CHAIN, keep=len(registry) - 1)
    session.commit()

    assert audit.verify(session)[1] is None
    code, output = _verify_cli(app, "--anchor", str(anchor))
    assert code != 0
    assert f"chain {town_a.id}, event 1: chain deleted since the anchor" in output
    anchored = audit.read_anchor(session, anchor.read_bytes())
    assert audit.verify(session, audit.REGISTRY_CHAIN, anchor=anchored)[1] == audit.BrokenLink(
        audit.REGISTRY_CHAIN, len(registry), "events missing since the anchor"
    )


def test_a_rewritten_anchor_is_refused(app: Flask, session: Session, town_a: Town, tmp_path: Path) -> None:
    """Lowering the anchored count in the file (to match a truncation) breaks the anchor's MAC."""
    _write_chain(session, town_a.id)
    anchor = _anchor_file(app, tmp_path / "anchor.json")
    content = json.loads(anchor.read_text())
    content["chains"][town_a.id]["seq"] = 3
    anchor.write_text(json.dumps(content))

    with pytest.raises(audit.AnchorInvalid):
        audit.read_anchor(session, anchor.read_bytes())
    code, output = _verify_cli(app, "--anchor", str(anchor))
    assert code != 0
    assert "MAC does not verify" in output


# (c) a deleted chain -----------------------------------------------------------------------------------


def test_a_deleted_chain_is_detected_by_the_registry(app: Flask, session: Session, town_a: Town) -> None:
    _write_chain(session, audit.NETWORK_CHAIN, 2)
    _write_chain(session, town_a.id)

    _delete_chain(session, town_a.id)
    session.commit()

    assert audit.verify(session)[1] == audit.BrokenLink(town_a.id, 1, "chain was deleted")
    code, output = _verify_cli(app)
    assert code != 0
    assert f"chain {town_a.id}, event 1: chain was deleted" in output


def test_an_emptied_chain_is_detected(session: Session, town_a: Town) -> None:
    _write_chain(session, town_a.id)
    session.execute(delete(AuditEvent).where(AuditEvent.chain == town_a.id))
    session.execute(update(AuditHead).where(AuditHead.chain == town_a.id).values(seq=0, hash=GENESIS))
    session.commit()
    assert audit.verify(session)[1] == audit.BrokenLink(town_a.id, 1, "chain was emptied")


def test_a_chain_slipped_in_by_hand_is_not_registered(session: Session, town_a: Town) -> None:
    _write_chain(session, town_a.id)
    at = utcnow()
    digest = audit._digest(GENESIS, "forged", 1, at, None, "officer", "case.viewed", None, None)
    session.add(AuditHead(chain="forged", seq=1, hash=digest, legacy_seq=0))
    session.flush()
    session.add(
        AuditEvent(
            chain="forged", seq=1, at=at, actor_id=None, actor_role="officer", action="case.viewed",
            target_id=None, detail=None, prev_hash=GENESIS, hash=digest,
        )
    )  # fmt: skip
    session.commit()
    assert audit.verify(session)[1] == audit.BrokenLink("forged", 1, "chain is not in the registry")


def test_a_deleted_chain_and_its_registration_break_the_registry(session: Session, town_a: Town) -> None:
    _write_chain(session, town_a.id)
    _write_chain(session, audit.NETWORK_CHAIN, 1)
    assert [e.target_id for e in _events(session, audit.REGISTRY_CHAIN)] == [town_a.id, audit.NETWORK_CHAIN]

    _delete_chain(session, town_a.id)
    session.execute(
        delete(AuditEvent).where(AuditEvent.chain == audit.REGISTRY_CHAIN, AuditEvent.target_id == town_a.id)
    )
    session.commit()
    assert audit.verify(session)[1] == audit.BrokenLink(audit.REGISTRY_CHAIN, 1, "event missing or out of order")


# (d) the honest path -----------------------------------------------------------------------------------


def test_the_honest_trail_verifies_with_and_without_its_anchors(
    app: Flask, session: Session, town_a: Town, tmp_path: Path
) -> None:
    _write_chain(session, audit.NETWORK_CHAIN, 1)
    events = _write_chain(session, town_a.id, 3)
    first = _anchor_file(app, tmp_path / "first.json")
    _write_chain(session, town_a.id, 2)

    registry = _events(session, audit.REGISTRY_CHAIN)
    assert [(e.action, e.target_id) for e in registry] == [
        ("chain.registered", audit.NETWORK_CHAIN),
        ("chain.registered", town_a.id),
    ]
    assert all(e.hash != audit._digest(e.prev_hash, e.chain, e.seq, e.at, *_fields(e)) for e in events)
    total = len(session.scalars(select(AuditEvent)).all())
    assert audit.verify(session) == (total, None)
    assert audit.verify(session, anchor=audit.read_anchor(session, first.read_bytes())) == (total, None)
    code, output = _verify_cli(app, "--anchor", str(first))
    assert code == 0, output
    assert f"audit trail intact: {total} events, reaches the anchor of" in output


def _fields(event: AuditEvent) -> tuple[str | None, str, str, str | None, str | None]:
    return event.actor_id, event.actor_role, event.action, event.target_id, event.detail


def test_the_daily_check_anchors_an_intact_trail_and_then_catches_a_cut_off_tail(
    app: Flask, session: Session, town_a: Town
) -> None:
    _write_chain(session, town_a.id)
    directory = anchors.anchor_dir(config_of(app))
    with app.app_context():
        assert case_jobs.audit_check() == "intact"
    written = anchors.newest(directory)
    assert written is not None
    anchored = audit.read_anchor(session, written.read_bytes())
    assert anchored.heads[town_a.id][0] == len(ACTIONS)
    # Only hashes and counts in the file.
    assert set(json.loads(written.read_text())) == {"version", "at", "chains", "mac"}

    _truncate(session, town_a.id, keep=2)
    session.commit()
    with app.app_context():
        assert case_jobs.audit_check() == "broken"
    assert anchors.newest(directory) == written  # no new anchor blesses the cut
    session.expire_all()
    assert session.scalars(select(Reminder.kind).where(Reminder.municipality_id == town_a.id)).all() == ["audit_broken"]


# Chains written before keying ---------------------------------------------------------------------------


def _legacy_chain(session: Session, chain: str, count: int) -> None:
    """A chain as migration 0015 finds it: unkeyed hashes, legacy_seq = seq, no registry."""
    prev = GENESIS
    session.add(AuditHead(chain=chain, seq=0, hash=GENESIS, legacy_seq=0))
    session.flush()
    for seq in range(1, count + 1):
        at = utcnow()
        digest = audit._digest(prev, chain, seq, at, None, "officer", "case.viewed", None, None)
        session.add(
            AuditEvent(
                chain=chain, seq=seq, at=at, actor_id=None, actor_role="officer", action="case.viewed",
                target_id=None, detail=None, prev_hash=prev, hash=digest,
            )
        )  # fmt: skip
        prev = digest
    session.execute(update(AuditHead).where(AuditHead.chain == chain).values(seq=count, hash=prev, legacy_seq=count))
    session.commit()


def test_legacy_events_keep_their_hash_and_are_fixed_by_the_first_keyed_event(session: Session, town_a: Town) -> None:
    _legacy_chain(session, town_a.id, 3)
    assert audit.verify(session) == (3, None)  # upgraded, nothing keyed yet

    audit.record(session, chain=town_a.id, action="case.viewed", actor_id=None, actor_role="officer")
    session.commit()
    registry = _events(session, audit.REGISTRY_CHAIN)
    assert [(e.action, e.target_id) for e in registry] == [("chain.adopted", town_a.id)]
    assert audit.verify(session)[1] is None
    legacy = _events(session, town_a.id)[:3]
    assert legacy[2].hash == audit._digest(legacy[2].prev_hash, town_a.id, 3, legacy[2].at, *_fields(legacy[2]))

    # Rewriting the legacy part consistently (it is unkeyed) no longer matches the registered end.
    session.execute(update(AuditEvent).where(AuditEvent.id == legacy[0].id).values(action="case.assigned"))
    session.expire_all()
    events = _events(session, town_a.id)
    _rehash_unkeyed(session, town_a.id, events[:3], start=1)
    session.execute(
        update(AuditEvent).where(AuditEvent.id == events[3].id).values(prev_hash=_events(session, town_a.id)[2].hash)
    )
    session.commit()
    broken = audit.verify(session)[1]
    assert broken == audit.BrokenLink(town_a.id, 3, "event was changed before the chain was keyed")
