"""Exceptions raised by the crypto package; callers catch CryptoError and its subclasses."""


class CryptoError(Exception):
    """Base class: anything this package raises about keys, blobs or codes."""


class DecryptionError(CryptoError):
    """Authentication failed: wrong key, tampered, truncated or reordered data, wrong context."""


class FormatError(CryptoError):
    """The blob is not one this version understands (unknown version or kind, bad header)."""


# The name is part of the agreed API, so it keeps no Error suffix.
class InvalidReceiptCode(CryptoError):
    """The text is not 16 digits once spaces, hyphens and dots are removed."""
