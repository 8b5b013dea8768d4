"""The receipt code between the stored report and the reporter's eyes, sealed into their cookie.

The receipt page must not need the database: a report committed a moment before a database
restart must still show its code. So the submitting request seals everything the page shows
(code, urgency, office name) under a key derived from the secret key and puts only the
ciphertext into the session cookie. The browser alone cannot read it, and the server keeps
nothing: a database dump, with or without the secret key, holds no trace of the code. It stays
readable until the reporter confirms they noted the code, or for RECEIPT_LIFETIME.

A report taken during a flood without a solved challenge has no code yet (reporting.flood): the
cookie then holds its case key instead, sealed the same way, until the receipt page has derived
the code. The case key opens only that report, which its reporter wrote and the cookie's holder is.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import crypto
from core.db import utcnow

RECEIPT_LIFETIME = timedelta(minutes=30)
_PURPOSE = "receipt-cookie"


@dataclass(frozen=True)
class PendingReceipt:
    """What the receipt page shows; repr=False keeps the code out of logs and tracebacks."""

    code: str = field(repr=False)
    urgent: bool
    case_id: str
    office_name: str
    issued_at: datetime
    # A deferred report (reporting.flood): no code yet, the case key until the code is derived.
    deferred_key: bytes | None = field(default=None, repr=False)


def _key(secret_key: str) -> bytes:
    return crypto.derive_subkey(secret_key.encode(), _PURPOSE)


def seal_receipt(secret_key: str, municipality_id: str, receipt: PendingReceipt) -> str:
    """The cookie value: AES-GCM under a key only the server has, bound to the municipality."""
    plain = json.dumps(
        {
            "code": receipt.code,
            "urgent": receipt.urgent,
            "case": receipt.case_id,
            "office": receipt.office_name,
            "at": int(receipt.issued_at.timestamp()),
            "key": base64.b64encode(receipt.deferred_key).decode("ascii") if receipt.deferred_key else None,
        }
    ).encode()
    blob = crypto.box_encrypt(_key(secret_key), plain, purpose=_PURPOSE, record_id=municipality_id)
    return base64.urlsafe_b64encode(blob).decode("ascii")


def open_receipt(secret_key: str, municipality_id: str, value: object) -> PendingReceipt | None:
    """The receipt in the cookie, or None when absent, expired, tampered with or for another office."""
    if not isinstance(value, str) or len(value) > 4096:
        return None
    try:
        blob = base64.urlsafe_b64decode(value.encode("ascii"))
        fields = json.loads(crypto.box_decrypt(_key(secret_key), blob, purpose=_PURPOSE, record_id=municipality_id))
        receipt = PendingReceipt(
            code=str(fields["code"]),
            urgent=bool(fields["urgent"]),
            case_id=str(fields["case"]),
            office_name=str(fields["office"]),
            issued_at=datetime.fromtimestamp(int(fields["at"]), tz=UTC),
            deferred_key=base64.b64decode(fields["key"]) if fields.get("key") else None,
        )
    except (ValueError, KeyError, TypeError, UnicodeError, AttributeError, crypto.CryptoError):
        return None
    if utcnow() - receipt.issued_at > RECEIPT_LIFETIME:
        return None
    return receipt
