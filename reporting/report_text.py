"""The reporter's own report in words, under the labels of the form they filled in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from reporting.forms import ReportForm

ALREADY_DONE = _l("Bereits unternommen")


@dataclass(frozen=True)
class ReportLine:
    """One answer: the question as the form asked it, and the answer as text or as a list."""

    label: str
    text: str = ""
    items: tuple[str, ...] = ()
    multiline: bool = False


def _label(name: str) -> str:
    # The unbound field keeps the label it was declared with: the form is the one source of wording.
    return str(getattr(ReportForm, name).args[0])


def _chosen(name: str, value: Any) -> str:
    labels = {choice.value: str(choice.label) for choice in getattr(ReportForm, name).kwargs["choices"]}
    values = value if isinstance(value, list | tuple) else [value]
    return ", ".join(labels.get(str(v), str(v)) for v in values if v not in (None, ""))


def _day(value: Any) -> str:
    try:
        return str(format_date(date.fromisoformat(str(value))))
    except ValueError:
        return str(value)


def _month(value: Any) -> str:
    try:
        year, month = str(value).split("-")
        return str(format_date(date(int(year), int(month), 1), "MMMM yyyy"))
    except ValueError:
        return str(value)


def _text(value: Any) -> str:
    return str(value)


# Form field name -> how its stored value reads; in the order the form asks.
_WORDING: list[tuple[str, Callable[[Any], str]]] = [
    ("reporter_role", lambda v: _chosen("reporter_role", v)),
    ("affected_role", lambda v: _chosen("affected_role", v)),
    ("incident_types", lambda v: _chosen("incident_types", v)),
    ("description", _text),
    ("motives", lambda v: _chosen("motives", v)),
    ("incident_date", _day),
    ("incident_month", _month),
    ("incident_time", _text),
    ("ongoing", lambda v: _("Ja")),
    ("known_since", _day),
    ("channel", lambda v: _chosen("channel", v)),
    ("place", _text),
    ("platform", _text),
    ("urls", _text),
    ("perpetrator", lambda v: _chosen("perpetrator", v)),
    ("perpetrator_description", _text),
    ("evidence_found", _text),
    ("already_done", _text),
    ("police_reference", _text),
    ("contact", lambda v: _chosen("contact", v)),
    ("contact_email", _text),
    ("contact_phone", _text),
]
_MULTILINE = {"description", "perpetrator_description"}
_DONE = {"police": "done_police", "supervisor": "done_supervisor", "counselling": "done_counselling"}


def report_lines(report: dict[str, Any]) -> list[ReportLine]:
    """What the reporter sent, answered questions only, each under the form's own label."""
    lines = [ReportLine(_label("acute_danger"), _("Ja") if report.get("acute_danger") else _("Nein"))]
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
