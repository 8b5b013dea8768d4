"""Every referral state and transition, once."""

from __future__ import annotations

REFERRAL_OPEN_STATES = ("awaiting_approval", "sent", "received", "accepted", "in_progress")
