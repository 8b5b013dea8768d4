"""The reporter's own report in words, under the labels of the form they filled in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from reporting.forms import ReportForm

ALREADY_DONE = _l("Bereits unternommen")


@dataclass(frozen=True)
class ReportLine:
    """One answer: the question as the form asked it, and the answer as text or as a list."""

    label: str
    text: str = ""
    items: tuple[str, ...] = ()
    multiline: bool = False


Words = Callable[[Any], str]


def field_label(form: type[FlaskForm], name: str) -> str:
    """A field's label as its form declares it: the unbound field keeps it, the form is the one source of wording."""
    return str(getattr(form, name).args[0])


def choice_words(form: type[FlaskForm], name: str) -> Words:
    """Stored choice values (one or a list) as the form's choice labels, joined by commas."""
    labels = {choice.value: str(choice.label) for choice in getattr(form, name).kwargs["choices"]}

    def words(value: Any) -> str:
        values = value if isinstance(value, list | tuple) else [value]
        return ", ".join(labels.get(str(v), str(v)) for v in values if v not in (None, ""))

    return words


def yes_no(value: Any) -> str:
    return _("Ja") if value else _("Nein")


def day_words(value: Any) -> str:
    """An ISO date in the reader's locale; anything else as it is."""
    try:
        return str(format_date(date.fromisoformat(str(value))))
    except ValueError:
        return str(value)


def month_words(value: Any) -> str:
    """A "YYYY-MM" month as "Oktober 2026"; anything else as it is."""
    try:
        year, month = str(value).split("-")
        return str(format_date(date(int(year), int(month), 1), "MMMM yyyy"))
    except ValueError:
        return str(value)


def _label(name: str) -> str:
    return field_label(ReportForm, name)


def _chosen(name: str) -> Words:
    return choice_words(ReportForm, name)


def _text(value: Any) -> str:
    return str(value)


# Form field name -> how its stored value reads; in the order the form asks.
_WORDING: list[tuple[str, Words]] = [
    ("reporter_role", _chosen("reporter_role")),
    ("affected_role", _chosen("affected_role")),
    ("incident_types", _chosen("incident_types")),
    ("description", _text),
    ("motives", _chosen("motives")),
    ("incident_date", day_words),
    ("incident_month", month_words),
    ("incident_time", _text),
    ("ongoing", lambda v: _("Ja")),
    ("known_since", day_words),
    ("channel", _chosen("channel")),
    ("place", _text),
    ("platform", _text),
    ("urls", _text),
    ("perpetrator", _chosen("perpetrator")),
    ("perpetrator_description", _text),
    ("evidence_found", _text),
    ("already_done", _text),
    ("police_reference", _text),
    ("contact", _chosen("contact")),
    ("contact_email", _text),
    ("contact_phone", _text),
]
_MULTILINE = {"description", "perpetrator_description"}
_DONE = {"police": "done_police", "supervisor": "done_supervisor", "counselling": "done_counselling"}


def report_lines(report: dict[str, Any]) -> list[ReportLine]:
    """What the reporter sent, answered questions only, each under the form's own label."""
    lines = [ReportLine(_label("acute_danger"), yes_no(report.get("acute_danger")))]
    for name, words in _WORDING:
        value = report.get(name)
        if name == "already_done":
            done = tuple(_label(field) for key, field in _DONE.items() if (value or {}).get(key))
            lines.extend([ReportLine(str(ALREADY_DONE), items=done)] if done else [])
        elif value in (None, "", [], False) or (name == "incident_month" and report.get("incident_date")):
            continue  # unanswered; or the month, derived from the date given: said once
        elif name == "urls":
            lines.append(ReportLine(_label(name), items=tuple(str(url) for url in value)))
        else:
            lines.append(ReportLine(_label(name), words(value), multiline=name in _MULTILINE))
    return lines
