"""What is encrypted under a case key, and how: one place for purposes and record ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import crypto
from reporting.content import ReportContent, read_content


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


def encrypt_message(case_key: bytes, message_id: str, body: str) -> bytes:
    return _json_box(case_key, {"body": body}, "message", message_id)


def decrypt_message(case_key: bytes, message_id: str, blob: bytes) -> str:
    body: str = _json_open(case_key, blob, "message", message_id)["body"]
    return body


@dataclass(frozen=True)
class AttachmentMeta:
    name: str
    media_type: str
    size: int
    metadata_warning: bool


def encrypt_attachment(
    case_key: bytes, attachment_id: str, meta: AttachmentMeta, content: bytes
) -> tuple[bytes, bytes]:
    """(meta ciphertext, content ciphertext): the file as a chunked stream, its name in a box."""
    meta_blob = _json_box(case_key, meta.__dict__, "attachment-meta", attachment_id)
    content_blob = crypto.encrypt_bytes_stream(case_key, content, purpose="attachment", record_id=attachment_id)
    return meta_blob, content_blob


def decrypt_attachment_meta(case_key: bytes, attachment_id: str, blob: bytes) -> AttachmentMeta:
    return AttachmentMeta(**_json_open(case_key, blob, "attachment-meta", attachment_id))


def decrypt_attachment(case_key: bytes, attachment_id: str, blob: bytes) -> bytes:
    return crypto.decrypt_bytes_stream(case_key, blob, purpose="attachment", record_id=attachment_id)


def _reporter_address_key(secret_key: str) -> bytes:
    return crypto.derive_subkey(secret_key.encode(), "reporter-notify")


def seal_reporter_address(secret_key: str, case_id: str, address: str) -> bytes:
    """The reporter's optional notification address, readable by the worker (not by the office key)."""
    return crypto.box_encrypt(
        _reporter_address_key(secret_key), address.encode(), purpose="reporter-notify", record_id=case_id
    )


def open_reporter_address(secret_key: str, case_id: str, blob: bytes) -> str:
    return crypto.box_decrypt(
        _reporter_address_key(secret_key), blob, purpose="reporter-notify", record_id=case_id
    ).decode()
