"""Message authentication: HMAC-SHA256 under a key kept outside the database (the audit chains).

Whoever can write the database but lacks the key cannot compute a tag, so an edited record cannot
be made to verify again. A label separates the uses of one key.
"""

import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from ._blob import CONTEXT_PREFIX, KEY_SIZE

MAC_SIZE = 32


def mac(key: bytes, label: str, message: bytes) -> bytes:
    """The 32-byte HMAC-SHA256 tag of `message` for the use `label`, under `key` (at least 32 bytes)."""
    if not isinstance(key, bytes) or len(key) < KEY_SIZE:
        raise ValueError(f"a MAC key must be at least {KEY_SIZE} bytes")
    if not label or "/" in label:
        raise ValueError("a MAC label is a non-empty name without '/'")
    tag = crypto_hmac.HMAC(key, hashes.SHA256())
    tag.update(CONTEXT_PREFIX + b"mac/" + label.encode() + b"/")
    tag.update(message)
    return tag.finalize()


def verify_mac(key: bytes, label: str, message: bytes, tag: bytes) -> bool:
    """Whether `tag` is the tag of `message` (compared in constant time)."""
    return isinstance(tag, bytes) and hmac.compare_digest(mac(key, label, message), tag)
