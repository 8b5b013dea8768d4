"""What is encrypted under a case key, and how: one place for purposes and record ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import crypto
from reporting.content import ReportContent, read_content
from reporting.models import Attachment

log = logging.getLogger("komma.case_crypto")
T = TypeVar("T")
P = ParamSpec("P")


def seal_case_key(office_public_key: bytes, case_key: bytes, case_id: str) -> bytes:
    return crypto.seal(office_public_key, case_key, purpose="case-key", record_id=case_id)


def open_case_key(office_private_key: bytes, sealed: bytes, case_id: str) -> bytes:
    return crypto.open_sealed(office_private_key, sealed, purpose="case-key", record_id=case_id)


def wrap_for_reporter(reporter_key: bytes, case_key: bytes, case_id: str) -> bytes:
    return crypto.box_encrypt(reporter_key, case_key, purpose="reporter-case-key", record_id=case_id)


def unwrap_for_reporter(reporter_key: bytes, wrapped: bytes, case_id: str) -> bytes:
    return crypto.box_decrypt(reporter_key, wrapped, purpose="reporter-case-key", record_id=case_id)


def _json_box(case_key: bytes, data: dict[str, Any], purpose: str, record_id: str) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return crypto.box_encrypt(case_key, payload, purpose=purpose, record_id=record_id)


def _json_open(case_key: bytes, blob: bytes, purpose: str, record_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(crypto.box_decrypt(case_key, blob, purpose=purpose, record_id=record_id))
    return data


def encrypt_report(case_key: bytes, case_id: str, report: ReportContent) -> bytes:
    return _json_box(case_key, dict(report), "report", case_id)


def decrypt_report(case_key: bytes, case_id: str, blob: bytes) -> ReportContent:
    return read_content(_json_open(case_key, blob, "report", case_id))


# Each record kind has its own purpose, and its record id names the case (and for an attachment the
# message it came with): a ciphertext moved to another table, row, case or message does not open.
# Rows written before migration 0012 carry LEGACY_FORMAT: messages, internal notes and assessment
# notes then shared the purpose "message" bound to the row id (the assessment's to the case id),
# attachments were bound to their own id only. Only those rows are read the old way; a row of the
# current format never is, so its ciphertext cannot be passed off as a legacy record.
LEGACY_FORMAT = 1
RECORD_FORMAT = 2

MESSAGE_PURPOSE = "case-message"
INTERNAL_NOTE_PURPOSE = "internal-note"
ASSESSMENT_NOTE_PURPOSE = "assessment-note"
ATTACHMENT_META_PURPOSE = "case-attachment-meta"
ATTACHMENT_PURPOSE = "case-attachment"
_LEGACY_TEXT_PURPOSE = "message"


def opened_or_none(what: str, open_record: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
    """open_record(*args), or None if the record does not open where it is stored: moved or altered.

    `what` names the record for the log (kind and id, never content).
    """
    try:
        return open_record(*args, **kwargs)
    except crypto.CryptoError:
        log.warning("%s does not open under its binding (moved or altered in the database)", what)
        return None


def _binding(fmt: int, current: tuple[str, str], legacy: tuple[str, str]) -> tuple[str, str]:
    if fmt == RECORD_FORMAT:
        return current
    if fmt == LEGACY_FORMAT:
        return legacy
    raise crypto.FormatError(f"unknown record format {fmt}")


def _message_binding(fmt: int, case_id: str, message_id: str, author: str) -> tuple[str, str]:
    # The author is bound too: an office message relabelled as the reporter's does not open.
    return _binding(fmt, (MESSAGE_PURPOSE, f"{case_id}/{message_id}/{author}"), (_LEGACY_TEXT_PURPOSE, message_id))


def encrypt_message(case_key: bytes, case_id: str, message_id: str, author: str, body: str) -> bytes:
    """A message between reporter and office (author "reporter" or "office"), RECORD_FORMAT."""
    purpose, record = _message_binding(RECORD_FORMAT, case_id, message_id, author)
    return _json_box(case_key, {"body": body}, purpose, record)


def decrypt_message(case_key: bytes, case_id: str, message_id: str, author: str, blob: bytes, fmt: int) -> str:
    purpose, record = _message_binding(fmt, case_id, message_id, author)
    body: str = _json_open(case_key, blob, purpose, record)["body"]
    return body


def encrypt_note(case_key: bytes, case_id: str, note_id: str, body: str) -> bytes:
    """An internal note of the clearing office (never shown to the reporter), RECORD_FORMAT."""
    return _json_box(case_key, {"body": body}, INTERNAL_NOTE_PURPOSE, f"{case_id}/{note_id}")


def decrypt_note(case_key: bytes, case_id: str, note_id: str, blob: bytes, fmt: int) -> str:
    purpose, record = _binding(fmt, (INTERNAL_NOTE_PURPOSE, f"{case_id}/{note_id}"), (_LEGACY_TEXT_PURPOSE, note_id))
    body: str = _json_open(case_key, blob, purpose, record)["body"]
    return body


def encrypt_assessment_notes(case_key: bytes, case_id: str, notes: str) -> bytes:
    """The reasoning of the officer's assessment (one per case), RECORD_FORMAT."""
    return _json_box(case_key, {"body": notes}, ASSESSMENT_NOTE_PURPOSE, case_id)


def decrypt_assessment_notes(case_key: bytes, case_id: str, blob: bytes, fmt: int) -> str:
    purpose, record = _binding(fmt, (ASSESSMENT_NOTE_PURPOSE, case_id), (_LEGACY_TEXT_PURPOSE, case_id))
    body: str = _json_open(case_key, blob, purpose, record)["body"]
    return body


@dataclass(frozen=True)
class AttachmentMeta:
    name: str
    media_type: str
    size: int
    metadata_warning: bool


@dataclass(frozen=True)
class AttachmentPlace:
    """Where an attachment belongs: its case, the message it came with (None: the report) and its id."""

    case_id: str
    message_id: str | None
    attachment_id: str
    fmt: int = RECORD_FORMAT

    def binding(self, purpose: str, legacy_purpose: str) -> tuple[str, str]:
        current = f"{self.case_id}/{self.message_id or 'report'}/{self.attachment_id}"
        return _binding(self.fmt, (purpose, current), (legacy_purpose, self.attachment_id))


def attachment_place(attachment: Attachment) -> AttachmentPlace:
    return AttachmentPlace(attachment.case_id, attachment.message_id, attachment.id, attachment.crypto_format)


def encrypt_attachment(
    case_key: bytes, place: AttachmentPlace, meta: AttachmentMeta, content: bytes
) -> tuple[bytes, bytes]:
    """(meta ciphertext, content ciphertext): the file as a chunked stream, its name in a box."""
    if place.fmt != RECORD_FORMAT:
        raise ValueError("new attachments are written in the current format")
    meta_blob = _json_box(case_key, meta.__dict__, *place.binding(ATTACHMENT_META_PURPOSE, "attachment-meta"))
    purpose, record = place.binding(ATTACHMENT_PURPOSE, "attachment")
    content_blob = crypto.encrypt_bytes_stream(case_key, content, purpose=purpose, record_id=record)
    return meta_blob, content_blob


def decrypt_attachment_meta(case_key: bytes, place: AttachmentPlace, blob: bytes) -> AttachmentMeta:
    return AttachmentMeta(**_json_open(case_key, blob, *place.binding(ATTACHMENT_META_PURPOSE, "attachment-meta")))


def decrypt_attachment(case_key: bytes, place: AttachmentPlace, blob: bytes) -> bytes:
    purpose, record = place.binding(ATTACHMENT_PURPOSE, "attachment")
    return crypto.decrypt_bytes_stream(case_key, blob, purpose=purpose, record_id=record)


# The reporter's notification address is the one thing the service reads on its own (to say "a
# message is waiting"), so it is sealed under a key of its own, KOMMA_NOTIFY_KEY: neither the office
# key nor KOMMA_SECRET_KEY opens it. A stored address starts with NOTIFY_FORMAT and the id of the key
# it was sealed under, so a rotated key's addresses are found and re-sealed.
NOTIFY_PURPOSE = "reporter-notify"
NOTIFY_FORMAT = b"N\x01"
_KEY_ID_SIZE = 4


def _notify_box_key(notify_key: bytes) -> bytes:
    return crypto.derive_subkey(notify_key, "reporter-notify-box")


def notify_key_id(notify_key: bytes) -> bytes:
    """Names a notification key in what it sealed without saying anything about the key."""
    return crypto.derive_subkey(notify_key, "reporter-notify-id")[:_KEY_ID_SIZE]


def notify_prefix(notify_key: bytes) -> bytes:
    """The first bytes of every address sealed under this key."""
    return NOTIFY_FORMAT + notify_key_id(notify_key)


def seal_reporter_address(notify_key: bytes, case_id: str, address: str) -> bytes:
    """The reporter's optional notification address, readable by the worker with the notification key."""
    box = crypto.box_encrypt(_notify_box_key(notify_key), address.encode(), purpose=NOTIFY_PURPOSE, record_id=case_id)
    return notify_prefix(notify_key) + box


def open_reporter_address(
    notify_keys: tuple[bytes, ...], case_id: str, blob: bytes, *, legacy_secret_key: str = ""
) -> str:
    """The address, opened with whichever of the current and previous notification keys sealed it.

    `legacy_secret_key` opens an address sealed before issue 13 (under a key derived from
    KOMMA_SECRET_KEY) so that it can be re-sealed; reseal_reporter_addresses leaves none behind.
    """
    if blob.startswith(NOTIFY_FORMAT):
        key_id, box = (
            blob[len(NOTIFY_FORMAT) : len(NOTIFY_FORMAT) + _KEY_ID_SIZE],
            blob[len(NOTIFY_FORMAT) + _KEY_ID_SIZE :],
        )
        for key in notify_keys:
            if crypto.constant_time_equal(notify_key_id(key), key_id):
                return crypto.box_decrypt(_notify_box_key(key), box, purpose=NOTIFY_PURPOSE, record_id=case_id).decode()
        raise crypto.DecryptionError("sealed under a notification key not configured (KOMMA_NOTIFY_KEY_PREVIOUS?)")
    if not legacy_secret_key:
        raise crypto.FormatError("not a notification address of the current format")
    legacy_key = crypto.derive_subkey(legacy_secret_key.encode(), "reporter-notify")
    return crypto.box_decrypt(legacy_key, blob, purpose=NOTIFY_PURPOSE, record_id=case_id).decode()
