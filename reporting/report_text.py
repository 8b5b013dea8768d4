"""The report in words, under the labels of the form it was asked with (reporting.content).

The reporter's mailbox and the officer's case page show these lines; the referral packet words
its answers with `answer_words` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _

from reporting.content import FIELDS, Kind, ReportField, unanswered


@dataclass(frozen=True)
class ReportLine:
    """One answer: the question as the form asked it, and the answer as text or as a list."""

    label: str
    text: str = ""
    items: tuple[str, ...] = ()
    multiline: bool = False


def yes_no(value: object) -> str:
    return _("Ja") if value else _("Nein")


def day_words(value: object) -> str:
    """An ISO date in the reader's locale; anything else as it is."""
    try:
        return str(format_date(date.fromisoformat(str(value))))
    except ValueError:
        return str(value)


def month_words(value: object) -> str:
    """A "YYYY-MM" month as "Oktober 2026"; anything else as it is."""
    try:
        year, month = str(value).split("-")
        return str(format_date(date(int(year), int(month), 1), "MMMM yyyy"))
    except ValueError:
        return str(value)


def _listed(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def answer_words(field: ReportField, value: object) -> str:
    """One sealed answer in words: codes as their labels, days and months in the reader's locale."""
    if field.kind in (Kind.YES_NO, Kind.TICK):
        return yes_no(value)
    if field.kind in (Kind.CHOICE, Kind.MULTI_CHOICE):
        labels = field.codes or {}
        return ", ".join(str(labels.get(str(v), v)) for v in _listed(value) if v not in (None, ""))
    if field.kind is Kind.DATE:
        return day_words(value)
    if field.kind is Kind.MONTH:
        return month_words(value)
    if field.kind is Kind.GROUP:
        done = value if isinstance(value, Mapping) else {}
        return ", ".join(str(part.label) for part in field.parts if done.get(part.key))
    if field.kind is Kind.LINKS:
        return "\n".join(str(link) for link in _listed(value))
    return str(value)


def report_lines(report: Mapping[str, object]) -> list[ReportLine]:
    """What the reporter sent, answered questions only, each under the form's own label, in the form's order."""
    lines = []
    for field in FIELDS:
        if not field.sealed or unanswered(field, report):
            continue  # files are listed apart; unanswered, or the month of the day given: said once
        value = report.get(field.name)
        label = str(field.label)
        if field.kind is Kind.GROUP:
            done = value if isinstance(value, Mapping) else {}
            lines.append(ReportLine(label, items=tuple(str(part.label) for part in field.parts if done.get(part.key))))
        elif field.kind is Kind.LINKS:
            lines.append(ReportLine(label, items=tuple(str(link) for link in _listed(value))))
        else:
            lines.append(ReportLine(label, answer_words(field, value), multiline=field.multiline))
    return lines
