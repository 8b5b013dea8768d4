"""Key generation and constant-time comparison of secrets."""

import hmac
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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


def derive_subkey(master: bytes, label: str) -> bytes:
    """A 32-byte key for one use, derived from a long-lived secret with HKDF-SHA256.

    The label separates uses (e.g. "totp-secrets"), so one master secret never keys two things.
    """
    if len(master) < 16:
        raise ValueError("master secret must be at least 16 bytes")
    if not label:
        raise ValueError("label must not be empty")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=b"komma/v1/subkey/" + label.encode())
    return hkdf.derive(master)
