"""Domain errors of the reporting side; views turn them into messages."""

from __future__ import annotations


class ReportingError(Exception):
    """Base of errors a reporter can cause."""


class SubmissionBudgetSpent(ReportingError):
    """The municipality's budget of submissions for this hour is used up (flood protection)."""


class ReceiptNotFound(ReportingError):
    """No case answers to this code (or the code is malformed): one error for both."""


class TooManyAttempts(ReportingError):
    """Too many wrong receipt codes across the installation just now."""
