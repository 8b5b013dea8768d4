"""Key generation and constant-time comparison of secrets."""

import hmac
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ._blob import KEY_SIZE, check_key


@dataclass(frozen=True)
class KeyPair:
    """Raw X25519 key pair (32 bytes each)."""

    # repr=False so a logged or printed KeyPair never shows the private half.
    private: bytes = field(repr=False)
    public: bytes


def generate_keypair() -> KeyPair:
    """A fresh X25519 key pair."""
    private = X25519PrivateKey.generate()
    return KeyPair(private=private.private_bytes_raw(), public=private.public_key().public_bytes_raw())


def public_key_of(private: bytes) -> bytes:
    """The raw public key belonging to a raw X25519 private key."""
    check_key(private, "private key")
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def random_key() -> bytes:
    """32 random bytes for a symmetric key (case, referral and session keys)."""
    return secrets.token_bytes(KEY_SIZE)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare secrets without leaking, through timing, where they first differ."""
    return hmac.compare_digest(a, b)
