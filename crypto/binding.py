"""Key binding: an HMAC tag that ties a public key to its owner and purpose, and its fingerprint.

A public key is stored in the clear; whoever can write the database could swap it for their own
and read everything sealed to it afterwards. The tag is an HMAC-SHA256 under a binding key that
is kept outside the database, over (purpose, owner kind, owner id, public key): a swapped key, or
a valid key moved to another owner or purpose, no longer verifies.
"""

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from ._blob import CONTEXT_PREFIX, KEY_SIZE, check_key

TAG_SIZE = 32
_LABEL = CONTEXT_PREFIX + b"key-binding"
# 16 bytes of SHA-256: 128 bits, long enough that no one finds a second key to match it, short
# enough to read out over the phone in eight groups.
FINGERPRINT_BYTES = 16


def _field(value: bytes) -> bytes:
    # Each field length-prefixed, so ("ab", "c") and ("a", "bc") never give the same message.
    return len(value).to_bytes(4, "big") + value


def _message(purpose: str, owner_kind: str, owner_id: str, public_key: bytes) -> bytes:
    for name, value in (("purpose", purpose), ("owner_kind", owner_kind), ("owner_id", owner_id)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty str")
    check_key(public_key, "public key")
    return _LABEL + b"".join(
        _field(part) for part in (purpose.encode(), owner_kind.encode(), owner_id.encode(), public_key)
    )


def bind_public_key(binding_key: bytes, *, purpose: str, owner_kind: str, owner_id: str, public_key: bytes) -> bytes:
    """The 32-byte tag that vouches for this public key belonging to this owner, for this purpose."""
    if not isinstance(binding_key, bytes) or len(binding_key) < KEY_SIZE:
        raise ValueError(f"binding key must be at least {KEY_SIZE} bytes")
    mac = crypto_hmac.HMAC(binding_key, hashes.SHA256())
    mac.update(_message(purpose, owner_kind, owner_id, public_key))
    return mac.finalize()


def verify_binding(
    binding_key: bytes, tag: bytes | None, *, purpose: str, owner_kind: str, owner_id: str, public_key: bytes
) -> bool:
    """Whether the tag was made for exactly this key, owner and purpose (compared in constant time).

    A missing tag is simply False: the caller refuses an untagged key like a forged one.
    """
    expected = bind_public_key(
        binding_key, purpose=purpose, owner_kind=owner_kind, owner_id=owner_id, public_key=public_key
    )
    if not isinstance(tag, bytes):
        return False
    return hmac.compare_digest(expected, tag)


def fingerprint(public_key: bytes) -> str:
    """A short form people compare by eye or phone: SHA-256 of the key, 16 bytes in 8 hex groups."""
    check_key(public_key, "public key")
    digest = hashlib.sha256(b"komma/v1/fingerprint/" + public_key).hexdigest()[: FINGERPRINT_BYTES * 2]
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4)).upper()
