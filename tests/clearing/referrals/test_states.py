"""The referral states: one state machine, labels for every state, the overdue and the stale rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clearing.referrals import states
from clearing.referrals.labels import OUTCOME_LABELS, PARTNER_STEP_LABELS, REFERRAL_STATE_LABELS

NOW = datetime(2025, 3, 30, 1, 30, tzinfo=UTC)


def test_every_state_has_its_words() -> None:
    assert list(REFERRAL_STATE_LABELS) == list(states.STATES)
    assert set(PARTNER_STEP_LABELS) == set(states.PARTNER_STATES)
    assert list(OUTCOME_LABELS) == list(states.OUTCOMES)


def test_the_moves_form_one_machine() -> None:
    moves = {s: set(t) for s, t in states.OFFICE_MOVES.items()}
    for state, targets in states.PARTNER_MOVES.items():
        moves.setdefault(state, set()).update(targets)
    named = set(moves) | {t for targets in moves.values() for t in targets}
    assert named == set(states.STATES)
    # Everything can be reached from the draft the office creates.
    reached, todo = {"awaiting_approval"}, ["awaiting_approval"]
    while todo:
        for target in moves.get(todo.pop(), set()):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    assert reached == set(states.STATES)
    # Open means the office can still take it back; finished states lead nowhere.
    assert set(states.OFFICE_MOVES) == set(states.REFERRAL_OPEN_STATES)
    for finished in set(states.STATES) - set(states.REFERRAL_OPEN_STATES):
        assert finished not in moves, finished
    # The partner sets only its own states, and only on what it can see.
    assert {t for targets in states.PARTNER_MOVES.values() for t in targets} == set(states.PARTNER_STATES)
    assert set(states.PARTNER_MOVES) <= set(states.PARTNER_VISIBLE_STATES)
    assert set(states.PARTNER_VISIBLE_STATES) == set(states.STATES) - {"awaiting_approval", "cancelled"}


def test_only_the_second_officer_sends_a_draft() -> None:
    assert [s for s in states.STATES if states.office_may_move(s, "sent")] == ["awaiting_approval"]


@pytest.mark.parametrize(
    ("state", "to", "allowed"),
    [
        ("sent", "received", True),
        ("sent", "completed", False),
        ("accepted", "declined", True),
        ("in_progress", "completed", True),
        ("completed", "in_progress", False),
        ("declined", "accepted", False),
        ("withdrawn", "received", False),
        ("awaiting_approval", "received", False),
        ("sent", "withdrawn", False),  # the office's move, never the partner's
        ("sent", "cancelled", False),
    ],
)
def test_partner_moves(state: str, to: str, allowed: bool) -> None:
    assert states.partner_may_move(state, to) is allowed


def test_a_withdrawn_consent_ends_every_open_referral_by_an_office_move() -> None:
    # A draft was never opened; a sent one may have been; any answer means the partner opened it.
    possible = [("awaiting_approval", False), ("sent", False), ("sent", True)]
    possible += [(s, True) for s in states.REFERRAL_OPEN_STATES if s not in ("awaiting_approval", "sent")]
    assert {s for s, _opened in possible} == set(states.REFERRAL_OPEN_STATES)
    for state, opened in possible:
        assert states.office_may_move(state, states.after_consent_withdrawn(opened=opened)), (state, opened)
    assert states.after_consent_withdrawn(opened=False) == "cancelled"
    assert states.after_consent_withdrawn(opened=True) == "withdrawn"


def test_overdue_only_while_the_partner_has_not_answered() -> None:
    past, future = NOW - timedelta(seconds=1), NOW + timedelta(seconds=1)
    assert states.is_overdue("sent", past, NOW)
    assert not states.is_overdue("sent", NOW, NOW)
    assert not states.is_overdue("sent", future, NOW)
    assert not states.is_overdue("sent", None, NOW)
    for answered in set(states.STATES) - {"sent"}:
        assert not states.is_overdue(answered, past, NOW), answered


def test_stale_while_open_and_sealed_to_an_older_key() -> None:
    for state in states.STATES:
        assert states.is_stale(state, 1, 2) == (state in states.REFERRAL_OPEN_STATES), state
        assert not states.is_stale(state, 2, 2)
