"""Domain errors of the reporting side; views turn them into messages."""

from __future__ import annotations


class ReportingError(Exception):
    """Base of errors a reporter can cause."""


class ReceiptNotFound(ReportingError):
    """No case answers to this code (or the code is malformed): one error for both."""


class TooManyAttempts(ReportingError):
    """The installation's budget for codes without a solved challenge is spent this minute."""
