"""What referrals refuse, as domain errors the views word."""

from __future__ import annotations


class ReferralRefused(Exception):
    """The referral cannot be made or changed; .reason is for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
