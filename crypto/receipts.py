"""Receipt codes: generation, display, normalisation and the keys derived from a code.

One Argon2id run over the normalised code (installation salt; the pepper as Argon2's secret
input) yields a 32-byte master; HKDF-Expand-SHA256 with two labels splits it into the
lookup id (stored, indexed) and the reporter key (never stored). Every well-formed code,
right or wrong, costs exactly one derivation, so timing reveals nothing.
"""

import secrets
import unicodedata
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from ._blob import CONTEXT_PREFIX, KEY_SIZE
from .errors import InvalidReceiptCode
from .passwords import PRODUCTION_ARGON2, Argon2Params, argon2id_derive

RECEIPT_DIGITS = 16
MIN_SALT_SIZE = 16
MIN_PEPPER_SIZE = 16
_DIGITS = frozenset("0123456789")
# Separators people type or that phones insert: hyphen, dot, and the Unicode dashes
# (U+2010..U+2015, minus sign). Whitespace of any kind is removed as well.
_SEPARATORS = frozenset("-.\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_ARGON2_AD = CONTEXT_PREFIX + b"receipt-code"
_LOOKUP_INFO = CONTEXT_PREFIX + b"receipt/lookup-id"
_REPORTER_INFO = CONTEXT_PREFIX + b"receipt/reporter-key"


@dataclass(frozen=True)
class ReceiptKeys:
    """What a receipt code yields: an id to find the case and a key to open its copy."""

    lookup_id: bytes
    # repr=False keeps the reporter key out of logs and tracebacks.
    reporter_key: bytes = field(repr=False)


def generate_receipt_code() -> str:
    """16 uniformly random digits (randbelow rejects samples, so there is no modulo bias)."""
    return f"{secrets.randbelow(10**RECEIPT_DIGITS):0{RECEIPT_DIGITS}d}"


def format_receipt_code(code: str) -> str:
    """Groups of four for display: "1234 5678 9012 3456"."""
    digits = normalise_receipt_code(code)
    return " ".join(digits[i : i + 4] for i in range(0, RECEIPT_DIGITS, 4))


def normalise_receipt_code(text: str) -> str:
    """The 16 ASCII digits of a typed code; InvalidReceiptCode for anything else."""
    # NFKC turns full-width digits and odd spaces (phone keyboards, copy and paste) into
    # their plain forms before the strict check.
    folded = unicodedata.normalize("NFKC", text)
    digits = "".join(c for c in folded if not c.isspace() and c not in _SEPARATORS)
    if len(digits) != RECEIPT_DIGITS or not _DIGITS.issuperset(digits):
        # The message never repeats the input: it may be a nearly correct code.
        raise InvalidReceiptCode(f"a receipt code has {RECEIPT_DIGITS} digits")
    return digits


def derive_receipt_keys(
    code: str, *, salt: bytes, pepper: bytes, params: Argon2Params = PRODUCTION_ARGON2
) -> ReceiptKeys:
    """Derive lookup id and reporter key from a receipt code in one Argon2id run."""
    if len(salt) < MIN_SALT_SIZE or len(pepper) < MIN_PEPPER_SIZE:
        raise ValueError(f"salt and pepper must each be at least {MIN_SALT_SIZE} bytes")
    digits = normalise_receipt_code(code)
    master = argon2id_derive(digits.encode("ascii"), salt, params, pepper=pepper, ad=_ARGON2_AD)
    # HKDF-Expand alone suffices: the Argon2id output is already a uniformly random key.
    return ReceiptKeys(lookup_id=_expand(master, _LOOKUP_INFO), reporter_key=_expand(master, _REPORTER_INFO))


def _expand(master: bytes, info: bytes) -> bytes:
    return HKDFExpand(algorithm=hashes.SHA256(), length=KEY_SIZE, info=info).derive(master)
