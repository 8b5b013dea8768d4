"""The referral packet: which sections an agreement can name, what goes into each, and how it reads.

A packet holds only the sections the partner's agreement names (`fields`). The sections of report
answers, and which answer goes into which, come from the report's schema (reporting.content); the
clearing office's assessment is the one section of its own, added here. Labels and words come from
the forms that asked (the report form's schema, the assessment form), dates in the reader's locale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm

from clearing.cases.forms import AssessmentForm
from clearing.cases.models import Assessment
from clearing.partners.agreements import ASSESSMENT
from reporting.content import FIELD_BY_NAME, FIELDS, SHARE_BY_NAME, SHARES, Kind, ReportField, Share
from reporting.report_text import answer_words, day_words, yes_no

FILES = "files"  # the evidence files the officer chose: shown beside the packet's words
ASSESSMENT_TITLE = _l("Bewertung der Clearingstelle (Dringlichkeit, Eskalation, Straftaten)")
# The assessment's key that has no field of its own in a form.
COMPLAINT_DEADLINE = _l("Strafantragsfrist (§ 77b StGB)")

FIELD_LABELS: Mapping[str, LazyString] = MappingProxyType(
    {**{share.name: share.title for share in SHARES}, ASSESSMENT: ASSESSMENT_TITLE}
)


def _members(section: str) -> list[ReportField]:
    """The report fields a section holds, in the form's order."""
    return [field for field in FIELDS if field.share == section]


def build_packet(report: Mapping[str, Any], assessment: Assessment | None, fields: tuple[str, ...]) -> dict[str, Any]:
    """Exactly what the partner will read: the allowed fields and nothing else (files travel apart)."""
    packet: dict[str, Any] = {}
    for share in SHARES:
        members = [field for field in _members(share.name) if field.sealed]
        if share.name not in fields or not members:
            continue  # not agreed, or the files: they travel as files of their own
        if share.grouped:
            packet[share.name] = {field.packet_key: report.get(field.name) for field in members}
        else:
            packet[share.name] = report.get(members[0].name)
    if ASSESSMENT in fields and assessment is not None:
        packet[ASSESSMENT] = {
            "urgency": assessment.urgency,
            "escalation_level": assessment.escalation_level,
            "offences": assessment.codes_of("offence"),
            "complaint_deadline": assessment.complaint_deadline.isoformat() if assessment.complaint_deadline else None,
        }
    return packet


# The packet in words ------------------------------------------------------------------------------


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


def _listed(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _plain(value: object) -> str:
    return str(value) if value not in (None, "") else "–"


def _answer(field: ReportField, value: object) -> str:
    return "–" if value is None else answer_words(field, value) or "–"


def _said_once(field: ReportField, group: Mapping[str, Any]) -> bool:
    """The month beside its day: the month is derived from the day, so the day says it."""
    return field.from_date is not None and bool(group.get(FIELD_BY_NAME[field.from_date].packet_key))


def _report_items(share: Share, value: object) -> list[PacketItem]:
    members = _members(share.name)
    if share.grouped:
        if not isinstance(value, Mapping):
            return [PacketItem(None, _plain(value))]
        return [
            PacketItem(str(field.label), _answer(field, value[field.packet_key]), multiline=field.multiline)
            for field in members
            if field.packet_key in value and not _said_once(field, value)
        ]
    field = members[0]  # a section of one field is that field's answer
    if field.kind is Kind.GROUP:
        if not isinstance(value, Mapping):
            return [PacketItem(None, _plain(value))]
        return [
            PacketItem(str(part.label), "–" if value[part.key] is None else yes_no(value[part.key]))
            for part in field.parts
            if part.key in value
        ]
    if field.kind is Kind.LINKS:
        links = tuple(str(link) for link in _listed(value) if link is not None)
        return [PacketItem(None, "" if links else "–", lines=links)]
    return [PacketItem(None, _answer(field, value), multiline=field.multiline)]


def _asked_in(form: type[FlaskForm], name: str) -> tuple[str, Callable[[object], str]]:
    """A field's label and its choices in words, as the form declares them (its unbound field keeps both)."""
    unbound = getattr(form, name)
    labels = {choice.value: str(choice.label) for choice in unbound.kwargs.get("choices", ())}

    def words(value: object) -> str:
        return ", ".join(labels.get(str(v), str(v)) for v in _listed(value) if v not in (None, "")) or "–"

    return str(unbound.args[0]), words


def _assessment_items(value: Mapping[str, Any]) -> list[PacketItem]:
    items = []
    for key in ("urgency", "escalation_level", "offences"):
        if key in value:
            label, words = _asked_in(AssessmentForm, key)
            items.append(PacketItem(label, "–" if value[key] is None else words(value[key])))
    if "complaint_deadline" in value:
        deadline = value["complaint_deadline"]
        items.append(PacketItem(str(COMPLAINT_DEADLINE), "–" if deadline is None else day_words(deadline)))
    return items


def _items(name: str, value: object) -> list[PacketItem]:
    share = SHARE_BY_NAME.get(name)
    if share is not None:
        return _report_items(share, value)
    if name == ASSESSMENT and isinstance(value, Mapping):
        return _assessment_items(value)
    return [PacketItem(None, _plain(value))]


def packet_sections(packet: Mapping[str, Any], fields: tuple[str, ...] | None = None) -> list[PacketSection]:
    """What the packet holds, in words; in the order of the agreement's `fields` when given (files aside)."""
    names = [name for name in fields if name != FILES] if fields is not None else list(packet)
    return [PacketSection(name, str(FIELD_LABELS.get(name, name)), _items(name, packet.get(name))) for name in names]
