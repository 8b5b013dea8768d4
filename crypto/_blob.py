"""Blob headers, context strings and argument checks shared by all constructions."""

import re
from enum import IntEnum

from .errors import FormatError

VERSION = 1
KEY_SIZE = 32
CONTEXT_PREFIX = b"komma/v1/"

# Purposes are fixed identifiers chosen by the code, never user input. Forbidding "/" keeps
# "<purpose>/<record id>" unambiguous: ("a/b", "c") and ("a", "b/c") cannot collide.
_PURPOSE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class Kind(IntEnum):
    """Second byte of every blob, so a blob of one kind is never parsed as another."""

    SEALED = 1
    BOX = 2
    STREAM = 3
    WRAPPED_KEY = 4


def header(kind: Kind) -> bytes:
    """The two leading bytes of a blob of this kind."""
    return bytes((VERSION, kind))


def check_header(blob: bytes, kind: Kind) -> None:
    """Raise FormatError unless blob starts with the current version and the expected kind."""
    if len(blob) < 2:
        raise FormatError("blob is too short to carry a header")
    if blob[0] != VERSION:
        raise FormatError(f"unsupported format version {blob[0]}")
    if blob[1] != kind:
        raise FormatError(f"expected a {kind.name.lower()} blob, found kind {blob[1]}")


def context(purpose: str, record_id: str) -> bytes:
    """The string that binds a ciphertext to what it is and which record it belongs to."""
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise ValueError("purpose must be 1-64 characters of a-z, 0-9, '.', '_', '-'")
    # An int or UUID passed by mistake must fail loudly, not be str()-ed in one place only.
    if not isinstance(record_id, str):
        raise TypeError("record_id must be a str")
    return CONTEXT_PREFIX + purpose.encode("ascii") + b"/" + record_id.encode("utf-8")


def check_key(key: bytes, what: str = "key") -> None:
    """Wrong-length keys are programming errors, so they raise ValueError, not CryptoError."""
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes")
