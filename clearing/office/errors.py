"""What running the office refuses."""

from __future__ import annotations


class TeamRefused(Exception):
    """The change cannot be made; .reason is for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
