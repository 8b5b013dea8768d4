"""The referral packet in words: labels and choices from the report form's schema, dates in the reader's locale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from clearing.cases.forms import AssessmentForm
from clearing.referrals.labels import FIELD_LABELS
from reporting.forms import ReportForm
from reporting.report_text import choice_words, day_words, field_label, month_words, yes_no

Text = Callable[[Any], str]

# The packet's own keys that have no field of their own in a form.
COMPLAINT_DEADLINE = _l("Strafantragsfrist (§ 77b StGB)")


@dataclass(frozen=True)
class PacketItem:
    """One answer: its label (None when the section is the answer) and its words, or lines for a list."""

    label: str | None
    text: str
    lines: tuple[str, ...] = ()
    multiline: bool = False


@dataclass(frozen=True)
class PacketSection:
    """One packet field as the agreement names it, with its answers."""

    field: str
    title: str
    items: list[PacketItem]


def _chosen(form: type[FlaskForm], name: str) -> Text:
    words = choice_words(form, name)
    return lambda value: words(value) or "–"


def _plain(value: Any) -> str:
    return str(value) if value not in (None, "") else "–"


# Per group of the packet: its key, the form and field that define the label, and how to word a value.
_REPORT = ReportForm
_GROUPS: dict[str, list[tuple[str, type[FlaskForm] | None, str, Text]]] = {
    "incident": [
        ("incident_types", _REPORT, "incident_types", _chosen(_REPORT, "incident_types")),
        ("motives", _REPORT, "motives", _chosen(_REPORT, "motives")),
        ("incident_date", _REPORT, "incident_date", day_words),
        ("incident_month", _REPORT, "incident_month", month_words),
        ("incident_time", _REPORT, "incident_time", _plain),
        ("ongoing", _REPORT, "ongoing", yes_no),
        ("channel", _REPORT, "channel", _chosen(_REPORT, "channel")),
        ("platform", _REPORT, "platform", _plain),
    ],
    "already_done": [
        ("police", _REPORT, "done_police", yes_no),
        ("supervisor", _REPORT, "done_supervisor", yes_no),
        ("counselling", _REPORT, "done_counselling", yes_no),
    ],
    "perpetrator": [
        ("context", _REPORT, "perpetrator", _chosen(_REPORT, "perpetrator")),
        ("description", _REPORT, "perpetrator_description", _plain),
    ],
    "contact": [
        ("contact", _REPORT, "contact", _chosen(_REPORT, "contact")),
        ("contact_email", _REPORT, "contact_email", _plain),
        ("contact_phone", _REPORT, "contact_phone", _plain),
    ],
    "assessment": [
        ("urgency", AssessmentForm, "urgency", _chosen(AssessmentForm, "urgency")),
        ("escalation_level", AssessmentForm, "escalation_level", _chosen(AssessmentForm, "escalation_level")),
        ("offences", AssessmentForm, "offences", _chosen(AssessmentForm, "offences")),
        ("complaint_deadline", None, "", day_words),
    ],
}
_SINGLE: dict[str, Text] = {
    "description": _plain,
    "place": _plain,
    "affected_role": _chosen(_REPORT, "affected_role"),
}
_MULTILINE = {"description"}


def _group(field: str, value: dict[str, Any]) -> list[PacketItem]:
    items = []
    for key, form, name, words in _GROUPS[field]:
        if key not in value:
            continue
        if field == "incident" and key == "incident_month" and value.get("incident_date"):
            continue  # the month is derived from the date: say it once
        label = field_label(form, name) if form is not None else str(COMPLAINT_DEADLINE)
        multiline = key == "description"
        items.append(PacketItem(label, words(value[key]) if value[key] is not None else "–", multiline=multiline))
    return items


def packet_sections(packet: dict[str, Any], fields: tuple[str, ...] | None = None) -> list[PacketSection]:
    """What the packet holds, in words; in the order of the agreement's `fields` when given (files aside)."""
    sections = []
    for field in [f for f in fields if f != "files"] if fields is not None else list(packet):
        value = packet.get(field)
        title = str(FIELD_LABELS.get(field, field))
        if field in _GROUPS and isinstance(value, dict):
            items = _group(field, value)
        elif field == "urls":
            urls = tuple(str(u) for u in value or ())
            items = [PacketItem(None, "" if urls else "–", lines=urls)]
        elif field in _SINGLE:
            items = [PacketItem(None, _SINGLE[field](value), multiline=field in _MULTILINE)]
        else:
            items = [PacketItem(None, _plain(value))]
        sections.append(PacketSection(field, title, items))
    return sections
