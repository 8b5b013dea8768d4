"""What the case work refuses, as domain errors the views word."""

from __future__ import annotations


class NoOfficeKey(Exception):
    """This officer has not been granted the office key yet: nothing can be decrypted."""


class ClearingError(ValueError):
    """A request the clearing office cannot carry out; the message is for the officer."""


class TransitionRefused(Exception):
    """The transition is not allowed now; .reason says why in the user's language."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
