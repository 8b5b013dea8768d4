"""Turning a posted intake or reply form into service input: files cleaned, fields gathered."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from core.config import Config
from core.sanitize import clean_text
from reporting.forms import ReportForm
from reporting.service import Evidence, NewReport
from reporting.uploads import RebuildGate, UploadRefused, clean_upload, safe_display_name


@dataclass
class FileCheck:
    evidence: list[Evidence]
    errors: list[str]
    chosen_names: list[str]


def refusal_message(reason: str, name: str, config: Config, *, limit_pixels: int | None = None) -> str:
    """The message for one refused file; limit_pixels is UploadRefused.limit_pixels, said in megapixels."""
    if reason == "bomb" and limit_pixels:
        return _(
            "Das Bild „%(name)s“ ist zu groß zum Verarbeiten. Es hat mehr als %(megapixels)d Megapixel; "
            "normale Fotos vom Handy sind kleiner und werden angenommen. Bitte senden Sie eine verkleinerte "
            "Fassung oder ein Bildschirmfoto.",
            name=name,
            megapixels=limit_pixels // 1_000_000,
        )
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
        "busy": _(
            "Gerade werden sehr viele Bilder verarbeitet, deshalb konnte „%(name)s“ noch nicht geprüft werden. "
            "Bitte senden Sie Ihre Dateien in einer Minute noch einmal.",
            name=name,
        ),
    }
    return messages.get(reason, messages["damaged"])


def check_files(storages: list[FileStorage], config: Config, *, gate: RebuildGate | None = None) -> FileCheck:
    """Clean each chosen file; collect clear messages for those that cannot be taken.

    Images are rebuilt under `gate`, by default the process's own (see reporting.uploads).
    """
    chosen = [s for s in storages if s and s.filename]
    result = FileCheck([], [], [_display(s.filename or "") for s in chosen])
    if len(chosen) > config.max_files:
        result.errors.append(_("Bitte wählen Sie höchstens %(count)d Dateien aus.", count=config.max_files))
        return result
    for storage in chosen:
        name = _display(storage.filename or "")
        data = storage.stream.read(config.max_file_bytes + 1)
        try:
            clean = clean_upload(data, max_bytes=config.max_file_bytes, gate=gate)
        except UploadRefused as refused:
            result.errors.append(refusal_message(refused.reason, name, config, limit_pixels=refused.limit_pixels))
            if refused.reason == "busy":
                # The next file would wait as long again, and the form has to be sent once more anyway.
                break
            continue
        result.evidence.append(Evidence(safe_display_name(storage.filename or "", clean.extension), clean))
    return result


def _display(filename: str) -> str:
    # Only for messages on the same page; the stored name goes through safe_display_name.
    return clean_text(filename.replace("\\", "/").rsplit("/", 1)[-1], multiline=False)[:80]


def report_from_form(form: ReportForm, files: list[Evidence]) -> NewReport:
    """The validated form as the service takes it: the report to seal, its clear codes apart."""
    content = form.content()
    return NewReport(
        affected_role=content["affected_role"],
        channel=content["channel"],
        incident_types=list(content["incident_types"]),
        motives=list(content["motives"]) or ["unknown"],
        perpetrator=content["perpetrator"],
        acute_danger=content["acute_danger"],
        incident_month=content["incident_month"],
        consents=form.consents(),
        content=content,
        files=files,
    )
