"""Public-key sealing: HPKE base mode (RFC 9180), X25519 / HKDF-SHA256 / AES-256-GCM.

Layout: version (1) | kind 0x01 (1) | HPKE encapsulated key (32) | ciphertext | tag (16).
The HPKE info is b"komma/v1/" + purpose + b"/" + record_id, so a blob opens only for the
purpose and record it was sealed for.
"""

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from ._blob import Kind, check_header, check_key, context, header
from .errors import DecryptionError

_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
_HEADER = header(Kind.SEALED)


def seal(public_key: bytes, plaintext: bytes, *, purpose: str, record_id: str) -> bytes:
    """Encrypt plaintext so that only the holder of the matching private key can read it."""
    check_key(public_key, "public key")
    info = context(purpose, record_id)
    recipient = X25519PublicKey.from_public_bytes(public_key)
    try:
        return _HEADER + _SUITE.encrypt(plaintext, recipient, info=info)
    except ValueError:
        # Only a low-order point gets here; such a key never comes from generate_keypair.
        raise ValueError("public key is not a usable X25519 key") from None


def open_sealed(private_key: bytes, blob: bytes, *, purpose: str, record_id: str) -> bytes:
    """Decrypt a sealed blob; DecryptionError unless key, purpose, record and bytes all match."""
    check_key(private_key, "private key")
    info = context(purpose, record_id)
    check_header(blob, Kind.SEALED)
    recipient = X25519PrivateKey.from_private_bytes(private_key)
    try:
        return _SUITE.decrypt(blob[len(_HEADER) :], recipient, info=info)
    # ValueError too: a tampered encapsulated key can be a low-order point, which fails
    # in the key agreement rather than in the tag check.
    except (InvalidTag, ValueError):
        raise DecryptionError("sealed blob could not be opened") from None
