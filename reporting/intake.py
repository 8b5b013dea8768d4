"""Turning a posted intake or reply form into service input: files cleaned, fields gathered."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from core.config import Config
from core.sanitize import clean_text
from reporting.forms import ReportForm, url_lines
from reporting.service import Evidence, NewReport
from reporting.uploads import UploadRefused, clean_upload, safe_display_name

CONTENT_FIELDS = (
    "reporter_role",
    "incident_time",
    "place",
    "platform",
    "evidence_found",
    "police_reference",
    "perpetrator_description",
    "description",
    "contact",
    "contact_email",
    "contact_phone",
)


@dataclass
class FileCheck:
    evidence: list[Evidence]
    errors: list[str]
    chosen_names: list[str]


def refusal_message(reason: str, name: str, config: Config) -> str:
    messages = {
        "too_large": _(
            "Die Datei „%(name)s“ ist größer als %(size)d MB.", name=name, size=config.max_file_bytes // (1024 * 1024)
        ),
        "unsupported_type": _("Die Datei „%(name)s“ ist kein Bild (JPEG, PNG, WebP, GIF) und kein PDF.", name=name),
        "bomb": _(
            "Das Bild „%(name)s“ ist zu groß zum Verarbeiten. Bitte senden Sie ein kleineres Bild oder ein Bildschirmfoto.",
            name=name,
        ),
        "damaged": _("Die Datei „%(name)s“ ist beschädigt und kann nicht gelesen werden.", name=name),
        "empty": _("Die Datei „%(name)s“ ist leer.", name=name),
    }
    return messages.get(reason, messages["damaged"])


def check_files(storages: list[FileStorage], config: Config) -> FileCheck:
    """Clean each chosen file; collect clear messages for those that cannot be taken."""
    chosen = [s for s in storages if s and s.filename]
    result = FileCheck([], [], [_display(s.filename or "") for s in chosen])
    if len(chosen) > config.max_files:
        result.errors.append(_("Bitte wählen Sie höchstens %(count)d Dateien aus.", count=config.max_files))
        return result
    for storage in chosen:
        name = _display(storage.filename or "")
        data = storage.stream.read(config.max_file_bytes + 1)
        try:
            clean = clean_upload(data, max_bytes=config.max_file_bytes)
        except UploadRefused as refused:
            result.errors.append(refusal_message(refused.reason, name, config))
            continue
        result.evidence.append(Evidence(safe_display_name(storage.filename or "", clean.extension), clean))
    return result


def _display(filename: str) -> str:
    # Only for messages on the same page; the stored name goes through safe_display_name.
    return clean_text(filename.replace("\\", "/").rsplit("/", 1)[-1], multiline=False)[:80]


def report_from_form(form: ReportForm, files: list[Evidence]) -> NewReport:
    month = (
        form.incident_date.data.strftime("%Y-%m")
        if form.incident_date.data
        else (form.incident_month.data or "").strip() or None
    )
    content = {name: form[name].data for name in CONTENT_FIELDS}
    content.update(
        {
            "incident_date": form.incident_date.data.isoformat() if form.incident_date.data else None,
            "incident_month": month,
            "ongoing": bool(form.ongoing.data),
            "known_since": form.known_since.data.isoformat() if form.known_since.data else None,
            "urls": url_lines(form.urls.data),
            "already_done": {
                "police": bool(form.done_police.data),
                "supervisor": bool(form.done_supervisor.data),
                "counselling": bool(form.done_counselling.data),
            },
            "perpetrator": form.perpetrator.data or "unknown",
            "incident_types": list(form.incident_types.data or []),
            "motives": list(form.motives.data or []),
            "affected_role": form.affected_role.data,
            "channel": form.channel.data,
            "acute_danger": form.acute_danger.data == "yes",
        }
    )
    return NewReport(
        affected_role=form.affected_role.data,
        channel=form.channel.data,
        incident_types=list(form.incident_types.data or []),
        motives=list(form.motives.data or []) or ["unknown"],
        perpetrator=form.perpetrator.data or "unknown",
        acute_danger=form.acute_danger.data == "yes",
        incident_month=month,
        consents={
            name: bool(form[f"consent_{name}"].data)
            for name in ("counselling", "police", "employer", "prosecutor", "statistics", "no_forwarding")
        },
        content=content,
        files=files,
    )
