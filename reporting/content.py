"""The report as it is sealed: every field, every consent and their labels, in one typed schema.

The intake form, the sealed JSON, the reporter's own report in words, the officer's case page and
the referral packet all read this module instead of spelling field names. Adding a field takes:

1. ``reporting/content.py`` (this file): a ``ReportField`` in ``FIELDS`` at the place the form asks
   it (its kind, label, code list from ``reporting/codes.py``, hint, limit, and the packet section
   ``share`` if a partner may receive it), and its key and type at the end of ``ReportContent``;
2. ``templates/reporting/report_form.html``: where the page asks it, e.g. ``{{ f.text(form.name) }}``.

The form field (``reporting/forms.py``), the sealed value, the mailbox and the case page
(``reporting/report_text.py``), the packet and the agreements' ``fields``
(``clearing/referrals/packet.py``) follow by themselves; tests/reporting/test_content.py checks
each of them. A field that needs a check of its own format adds a ``validate_<name>`` method to
``ReportForm``; a field of its own packet section adds a ``Share`` to ``SHARES`` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypedDict, cast

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from reporting import codes

# What one answer is once sealed (JSON).
Answer = str | bool | list[str] | dict[str, bool] | None

SHORT_TEXT = 200


class Kind(StrEnum):
    """How a field is asked, sealed and put into words."""

    TEXT = "text"  # free text: one line, or several (multiline)
    TIME = "time"  # a time of day as typed, "14:30"
    CHOICE = "choice"  # one code of the field's code list
    MULTI_CHOICE = "multi-choice"  # several codes of the field's code list
    DATE = "date"  # a day, sealed as "2026-10-12"
    MONTH = "month"  # a month, sealed as "2026-10"; the month of `from_date` when that day is given
    YES_NO = "yes-no"  # a question answered yes or no (radios), sealed as true or false
    TICK = "tick"  # a statement ticked or not (one checkbox), sealed as true or false
    LINKS = "links"  # one link per line, sealed as a list
    GROUP = "group"  # several ticks (`parts`), sealed together as {part: true or false}
    FILES = "files"  # evidence files: sealed as attachments of their own, not in the report's JSON


@dataclass(frozen=True)
class Share:
    """A section of a referral packet made of report answers; an agreement names it in `fields`."""

    name: str
    title: LazyString
    # A mapping of its fields' answers by `ReportField.packet_key`; otherwise its one field's answer itself.
    grouped: bool = False


# The packet's sections of report answers (`ReportField.share`), in the order a packet holds them.
SHARES: tuple[Share, ...] = (
    Share("incident", _l("Art, Motiv, Zeit und Ort des Vorfalls"), grouped=True),
    Share("description", _l("Beschreibung des Vorfalls")),
    Share("place", _l("Ortsangabe")),
    Share("urls", _l("Links")),
    Share("affected_role", _l("Rolle der betroffenen Person")),
    Share("already_done", _l("Was bereits unternommen wurde")),
    Share("perpetrator", _l("Angaben zur Täterin oder zum Täter"), grouped=True),
    Share("files", _l("Ausgewählte Dateien")),
    Share("contact", _l("Kontaktdaten der meldenden Person"), grouped=True),
)


@dataclass(frozen=True)
class Part:
    """One tick of a group: its key in the sealed mapping and its own checkbox on the form."""

    key: str
    form_name: str
    label: LazyString


@dataclass(frozen=True, eq=False)
class ReportField:
    """One question of the report form and its answer as sealed (under `name`)."""

    name: str
    kind: Kind
    label: LazyString
    codes: Mapping[str, LazyString] | None = None  # CHOICE, MULTI_CHOICE and YES_NO: code -> label
    hint: LazyString | None = None
    required: LazyString | None = None  # the message when it is left out; None: optional
    max_length: int | None = None  # TEXT and LINKS, in characters
    multiline: bool = False
    default: str | None = None  # CHOICE and YES_NO: preselected; a CHOICE seals it when nothing is chosen
    share: str | None = None  # the packet section (`SHARES`) a partner may receive it in
    share_key: str | None = None  # its key in a grouped section when that is not `name`
    from_date: str | None = None  # MONTH: the DATE field whose month it is when given (said once, by the day)
    parts: tuple[Part, ...] = ()  # GROUP

    @property
    def packet_key(self) -> str:
        return self.share_key or self.name

    @property
    def sealed(self) -> bool:
        """Whether its answer is in the report's JSON (files are attachments of their own)."""
        return self.kind is not Kind.FILES

    @property
    def form_names(self) -> tuple[str, ...]:
        """The form fields that ask it: a group's ticks, or the field itself."""
        return tuple(part.form_name for part in self.parts) if self.kind is Kind.GROUP else (self.name,)


# A yes-no question's answers on the form (sealed as true or false).
YES_NO: Mapping[str, LazyString] = MappingProxyType({"no": _l("Nein"), "yes": _l("Ja")})
SEVERAL = _l("Mehrere Antworten sind möglich.")

# Every field, in the order the form asks them: the form, the reporter's words and the case page
# follow this order, a grouped packet section too.
FIELDS: tuple[ReportField, ...] = (
    ReportField(
        "acute_danger",
        Kind.YES_NO,
        _l("Sind Sie jetzt in akuter Gefahr?"),
        codes=YES_NO,
        default="no",
        required=_l("Bitte beantworten Sie die Frage nach akuter Gefahr."),
    ),
    ReportField(
        "reporter_role",
        Kind.CHOICE,
        _l("Wer meldet?"),
        codes=codes.REPORTER_ROLES,
        required=_l("Bitte wählen Sie aus, wer meldet."),
    ),
    ReportField(
        "affected_role",
        Kind.CHOICE,
        _l("Welche Rolle hat die betroffene Person?"),
        codes=codes.AFFECTED_ROLES,
        required=_l("Bitte wählen Sie die Rolle der betroffenen Person."),
        share="affected_role",
    ),
    ReportField(
        "incident_types",
        Kind.MULTI_CHOICE,
        _l("Was ist passiert?"),
        codes=codes.INCIDENT_TYPES,
        hint=SEVERAL,
        required=_l("Bitte wählen Sie mindestens eine Art des Vorfalls."),
        share="incident",
    ),
    ReportField(
        "description",
        Kind.TEXT,
        _l("Beschreiben Sie, was passiert ist"),
        required=_l("Bitte beschreiben Sie kurz, was passiert ist."),
        max_length=20000,
        multiline=True,
        share="description",
    ),
    ReportField(
        "motives",
        Kind.MULTI_CHOICE,
        _l("Was war aus Ihrer Sicht der Grund?"),
        codes=codes.MOTIVES,
        hint=SEVERAL,
        share="incident",
    ),
    ReportField(
        "incident_date",
        Kind.DATE,
        _l("Datum des Vorfalls"),
        hint=_l("Wenn Sie den Tag nicht genau wissen, geben Sie unten den Monat an."),
        share="incident",
    ),
    ReportField(
        "incident_month",
        Kind.MONTH,
        _l("Ungefährer Monat (JJJJ-MM)"),
        hint=_l("Zum Beispiel 2026-10."),
        from_date="incident_date",
        share="incident",
    ),
    ReportField("incident_time", Kind.TIME, _l("Uhrzeit (wenn bekannt)"), share="incident"),
    ReportField("ongoing", Kind.TICK, _l("Es dauert noch an"), share="incident"),
    ReportField("known_since", Kind.DATE, _l("Seit wann wissen Sie davon?")),
    ReportField(
        "channel",
        Kind.CHOICE,
        _l("Wo ist es passiert?"),
        codes=codes.CHANNELS,
        required=_l("Bitte wählen Sie aus, wo es passiert ist."),
        share="incident",
    ),
    ReportField("place", Kind.TEXT, _l("Ort (frei, wenn Sie möchten)"), max_length=300, share="place"),
    ReportField(
        "platform", Kind.TEXT, _l("Plattform (z. B. Name des Netzwerks)"), max_length=SHORT_TEXT, share="incident"
    ),
    ReportField(
        "urls",
        Kind.LINKS,
        _l("Links zu Beiträgen oder Profilen"),
        hint=_l("Ein Link pro Zeile, beginnend mit https://"),
        max_length=5000,
        share="urls",
    ),
    ReportField(
        "perpetrator",
        Kind.CHOICE,
        _l("Wer hat es getan?"),
        codes=codes.PERPETRATORS,
        default="unknown",
        share="perpetrator",
        share_key="context",
    ),
    ReportField(
        "perpetrator_description",
        Kind.TEXT,
        _l("Beschreibung der Täterin oder des Täters"),
        hint=_l("Bitte nennen Sie andere Personen nur, wenn es nötig ist."),
        max_length=3000,
        multiline=True,
        share="perpetrator",
        share_key="description",
    ),
    ReportField(
        "files",
        Kind.FILES,
        _l("Beweise als Dateien (Bilder oder PDF)"),
        hint=_l(
            "Bildschirmfotos des Beitrags, des Verlaufs und des Profils, Fotos oder PDF. Höchstens %(count)d Dateien, "
            "je %(size)d MB."
        ),
        share="files",
    ),
    ReportField("evidence_found", Kind.TEXT, _l("Wer hat es zuerst gesehen, und wann?"), max_length=SHORT_TEXT),
    ReportField(
        "already_done",
        Kind.GROUP,
        _l("Bereits unternommen"),
        parts=(
            Part("police", "done_police", _l("Ich habe bereits Anzeige bei der Polizei erstattet")),
            Part("supervisor", "done_supervisor", _l("Ich habe meine Vorgesetzten informiert")),
            Part("counselling", "done_counselling", _l("Ich bin bereits in Beratung")),
        ),
        share="already_done",
    ),
    ReportField("police_reference", Kind.TEXT, _l("Aktenzeichen der Polizei (wenn vorhanden)"), max_length=SHORT_TEXT),
    ReportField(
        "contact",
        Kind.CHOICE,
        _l("Wie dürfen wir Sie erreichen?"),
        codes=codes.CONTACT_CHOICES,
        default="mailbox",
        share="contact",
    ),
    ReportField(
        "contact_email",
        Kind.TEXT,
        _l("E-Mail-Adresse (freiwillig)"),
        # Said plainly: unlike the rest of the report, the service itself can read this address.
        hint=_l(
            "Diese Adresse kann der Dienst der Meldestelle lesen, um Sie zu benachrichtigen. "
            "Die E-Mail sagt nur, dass in Ihrem Postfach eine Nachricht wartet, nie was darin steht."
        ),
        max_length=254,
        share="contact",
    ),
    ReportField("contact_phone", Kind.TEXT, _l("Telefonnummer (freiwillig)"), max_length=40, share="contact"),
)
FIELD_BY_NAME: Mapping[str, ReportField] = MappingProxyType({field.name: field for field in FIELDS})


class ReportContent(TypedDict):
    """The report's JSON as sealed under the case key, key by key in the order it is written.

    New keys go at the end, typed `... | None`: reports sealed before lack them and read them as None.
    """

    reporter_role: str
    incident_time: str | None
    place: str
    platform: str
    evidence_found: str
    police_reference: str
    perpetrator_description: str
    description: str
    contact: str
    contact_email: str
    contact_phone: str
    incident_date: str | None
    incident_month: str | None
    ongoing: bool
    known_since: str | None
    urls: list[str]
    already_done: dict[str, bool]
    perpetrator: str
    incident_types: list[str]
    motives: list[str]
    affected_role: str
    channel: str
    acute_danger: bool


# The JSON's key order, as every report has been sealed since the first (ReportContent's order).
SEALED_ORDER: tuple[str, ...] = tuple(ReportContent.__annotations__)
SHARE_BY_NAME: Mapping[str, Share] = MappingProxyType({share.name: share for share in SHARES})


def _check_schema() -> None:
    """Refuse to start on a schema that contradicts itself (a field half added)."""
    sealed = [field.name for field in FIELDS if field.sealed]
    if sorted(sealed) != sorted(SEALED_ORDER):
        raise RuntimeError(f"FIELDS and ReportContent name different fields: {sorted(set(sealed) ^ set(SEALED_ORDER))}")
    for field in FIELDS:
        if field.share is not None and field.share not in SHARE_BY_NAME:
            raise RuntimeError(f"{field.name}: no packet section {field.share!r} in SHARES")
        if field.from_date is not None and FIELD_BY_NAME.get(field.from_date, field).kind is not Kind.DATE:
            raise RuntimeError(f"{field.name}: from_date {field.from_date!r} is no DATE field")
        if (field.kind in (Kind.CHOICE, Kind.MULTI_CHOICE, Kind.YES_NO)) != (field.codes is not None):
            raise RuntimeError(f"{field.name}: a code list belongs to the choices, and only to them")
    for share in SHARES:
        members = [field.name for field in FIELDS if field.share == share.name]
        if not share.grouped and members != [share.name]:
            raise RuntimeError(f"packet section {share.name!r} is one field's answer: the field {share.name!r} alone")


_check_schema()


def url_lines(text: str | None) -> list[str]:
    """The links of a LINKS answer: one per non-empty line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _sealed_answer(field: ReportField, answers: Mapping[str, Any]) -> Answer:
    value = answers.get(field.name)
    if field.kind is Kind.CHOICE:
        return cast(str | None, value) or field.default
    if field.kind is Kind.MULTI_CHOICE:
        return list(value or [])
    if field.kind is Kind.DATE:
        return value.isoformat() if isinstance(value, date) else None
    if field.kind is Kind.MONTH:
        day = answers.get(field.from_date) if field.from_date else None
        return day.strftime("%Y-%m") if isinstance(day, date) else str(value or "").strip() or None
    if field.kind is Kind.YES_NO:
        return value == "yes"
    if field.kind is Kind.TICK:
        return bool(value)
    if field.kind is Kind.LINKS:
        return url_lines(value)
    if field.kind is Kind.GROUP:
        return {part.key: bool(answers.get(part.form_name)) for part in field.parts}
    return cast(str | None, value)  # TEXT and TIME: as the form cleaned them


def content_from_answers(answers: Mapping[str, Any]) -> ReportContent:
    """The JSON to seal, from the intake form's data (`form.data`: form field name -> value)."""
    values = {field.name: _sealed_answer(field, answers) for field in FIELDS if field.sealed}
    return cast(ReportContent, {name: values[name] for name in SEALED_ORDER})


def read_content(sealed: Mapping[str, Any]) -> ReportContent:
    """A decrypted report as this schema describes it: a field added after it was sealed reads as None (never asked)."""
    missing = {field.name: None for field in FIELDS if field.sealed and field.name not in sealed}
    return cast(ReportContent, {**sealed, **missing})


def unanswered(field: ReportField, report: Mapping[str, Any]) -> bool:
    """Whether the reporter left it out, or it only repeats another answer (the month of the day given)."""
    value = report.get(field.name)
    if field.kind is Kind.GROUP:
        return not any((value or {}).get(part.key) for part in field.parts)
    if field.kind is Kind.YES_NO:
        return False  # "no" is an answer
    if field.from_date and report.get(field.from_date):
        return True
    return value in (None, "", [], False)


# Consents -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consent:
    """A separate, optional, revocable wish, kept in clear on the case (column `consent_<name>`)."""

    name: str
    label: LazyString  # what the reporter agrees to, on the intake form
    short: LazyString  # its name in the mailbox, on the case page and in timelines
    for_referrals: bool  # a partner's agreement may require it (requires_consent)

    @property
    def field_name(self) -> str:
        """Its form field, and its column on the case."""
        return f"consent_{self.name}"


CONSENTS: tuple[Consent, ...] = (
    Consent(
        "counselling",
        _l(
            "Ich wünsche Beratung und bin einverstanden, dass meine Meldung an eine Beratungsstelle weitergegeben wird."
        ),
        codes.CONSENT_SHORT["counselling"],
        for_referrals=True,
    ),
    Consent(
        "police",
        _l("Ich bin einverstanden, dass meine Meldung an die Polizei weitergegeben wird."),
        codes.CONSENT_SHORT["police"],
        for_referrals=True,
    ),
    Consent(
        "employer",
        _l("Ich bin einverstanden, dass mein Arbeitgeber (Personalamt) informiert wird."),
        codes.CONSENT_SHORT["employer"],
        for_referrals=True,
    ),
    Consent(
        "prosecutor",
        _l("Ich bin einverstanden, dass meine Meldung an die Staatsanwaltschaft weitergegeben wird."),
        codes.CONSENT_SHORT["prosecutor"],
        for_referrals=True,
    ),
    Consent(
        "statistics",
        _l("Meine Meldung darf anonym in die Statistik eingehen."),
        codes.CONSENT_SHORT["statistics"],
        for_referrals=False,
    ),
    Consent(
        "no_forwarding",
        _l("Ich möchte keine Weitergabe: Die Meldung soll nur bei der Clearingstelle bleiben."),
        codes.CONSENT_SHORT["no_forwarding"],
        for_referrals=False,
    ),
)
CONSENT_NAMES: tuple[str, ...] = tuple(consent.name for consent in CONSENTS)
CONSENT_BY_NAME: Mapping[str, Consent] = MappingProxyType({consent.name: consent for consent in CONSENTS})


def consents_given(answers: Mapping[str, Any]) -> dict[str, bool]:
    """Each consent as ticked on a form (`form.data`)."""
    return {consent.name: bool(answers.get(consent.field_name)) for consent in CONSENTS}
