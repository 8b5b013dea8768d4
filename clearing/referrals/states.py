"""Every referral state, who moves a referral from which state to which, and when it is overdue or stale, once.

The office creates a referral (awaiting_approval, or sent at once without four eyes) and can only
take it back when the reporter withdraws a consent it depends on; everything after "sent" is the
partner's answer. Labels for people live in clearing.referrals.labels, keyed by these states.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final, Literal

ReferralState = Literal[
    "awaiting_approval",
    "sent",
    "received",
    "accepted",
    "declined",
    "in_progress",
    "completed",
    "cancelled",
    "withdrawn",
]
Outcome = Literal["counselling_started", "complaint_filed", "measures_taken", "no_action"]

STATES: Final[tuple[ReferralState, ...]] = (
    "awaiting_approval",
    "sent",
    "received",
    "accepted",
    "declined",
    "in_progress",
    "completed",
    "cancelled",
    "withdrawn",
)

# Still running: the office may have to take it back, the partner may still act on it.
REFERRAL_OPEN_STATES: Final[tuple[ReferralState, ...]] = (
    "awaiting_approval",
    "sent",
    "received",
    "accepted",
    "in_progress",
)

# What a partner may see: everything sent to it (not drafts awaiting the second officer, not
# cancelled ones whose keys are destroyed).
PARTNER_VISIBLE_STATES: Final[tuple[ReferralState, ...]] = tuple(
    s for s in STATES if s not in ("awaiting_approval", "cancelled")
)

# The office's moves. Sending needs a second officer where the agreement asks for four eyes; a
# withdrawn consent cancels a referral the partner has not opened (its packet is shredded) and
# withdraws one it has opened (the partner is told).
OFFICE_MOVES: Final[Mapping[str, tuple[ReferralState, ...]]] = {
    "awaiting_approval": ("sent", "cancelled"),
    "sent": ("cancelled", "withdrawn"),
    "received": ("withdrawn",),
    "accepted": ("withdrawn",),
    "in_progress": ("withdrawn",),
}

# The partner's moves: which states may follow which.
PARTNER_MOVES: Final[Mapping[str, tuple[ReferralState, ...]]] = {
    "sent": ("received", "accepted", "declined"),
    "received": ("accepted", "declined"),
    "accepted": ("in_progress", "completed", "declined"),
    "in_progress": ("completed",),
}

# Every state a partner may set.
PARTNER_STATES: Final[tuple[ReferralState, ...]] = ("received", "accepted", "declined", "in_progress", "completed")

# What a completed referral led to (the partner chooses one; the statistics count them).
OUTCOMES: Final[tuple[Outcome, ...]] = ("counselling_started", "complaint_filed", "measures_taken", "no_action")

# The only state with a response deadline: the partner has not answered yet.
AWAITING_ANSWER: Final[ReferralState] = "sent"


def office_may_move(state: str, to: str) -> bool:
    return to in OFFICE_MOVES.get(state, ())


def partner_next(state: str) -> tuple[ReferralState, ...]:
    """The states a partner may move a referral to from `state` (none once it is finished)."""
    return PARTNER_MOVES.get(state, ())


def partner_may_move(state: str, to: str) -> bool:
    return to in PARTNER_STATES and to in partner_next(state)


def after_consent_withdrawn(opened: bool) -> ReferralState:
    """Unopened, a referral is cancelled and its packet shredded; opened, it is withdrawn."""
    return "withdrawn" if opened else "cancelled"


def is_overdue(state: str, due_at: datetime | None, now: datetime) -> bool:
    """The partner has not answered within the days the agreement gives it."""
    return state == AWAITING_ANSWER and due_at is not None and due_at < now


def is_stale(state: str, key_generation: int, partner_key_generation: int) -> bool:
    """Still open but sealed to an older organisation key: the office must send it again."""
    return state in REFERRAL_OPEN_STATES and key_generation < partner_key_generation
