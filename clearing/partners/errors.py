"""What the alliance refuses: an invalid agreement, a partner key that cannot be issued or passed on."""

from __future__ import annotations


class AgreementInvalid(ValueError):
    """The agreement cannot be used; .problems lists (place, problem) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{place}: {problem}" for place, problem in problems))
        self.problems = problems


class PartnerError(ValueError):
    """A partner action that cannot be done as asked; the message is for the user."""
