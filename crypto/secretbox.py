"""Symmetric encryption of small values: AES-256-GCM with a random 96-bit nonce.

Layout: version (1) | kind 0x02 (1) | nonce (12) | ciphertext | tag (16).
Associated data: the two header bytes + b"komma/v1/" + purpose + b"/" + record_id.
"""

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._blob import Kind, check_header, check_key, context, header
from .errors import DecryptionError

NONCE_SIZE = 12
TAG_SIZE = 16
_HEADER = header(Kind.BOX)


def box_encrypt(key: bytes, plaintext: bytes, *, purpose: str, record_id: str) -> bytes:
    """Encrypt and authenticate plaintext under a 32-byte key, bound to purpose and record."""
    # Random nonces are safe here: a case key encrypts far fewer than 2**32 values.
    return _encrypt_with_nonce(key, secrets.token_bytes(NONCE_SIZE), plaintext, purpose, record_id)


def box_decrypt(key: bytes, blob: bytes, *, purpose: str, record_id: str) -> bytes:
    """Decrypt a box; DecryptionError unless key, purpose, record and bytes all match."""
    check_key(key)
    aad = _HEADER + context(purpose, record_id)
    check_header(blob, Kind.BOX)
    nonce = blob[len(_HEADER) : len(_HEADER) + NONCE_SIZE]
    ciphertext = blob[len(_HEADER) + NONCE_SIZE :]
    if len(nonce) != NONCE_SIZE or len(ciphertext) < TAG_SIZE:
        raise DecryptionError("box is truncated")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptionError("box could not be decrypted") from None


def _encrypt_with_nonce(key: bytes, nonce: bytes, plaintext: bytes, purpose: str, record_id: str) -> bytes:
    """box_encrypt with the nonce given, so tests can pin the format with known answers."""
    check_key(key)
    aad = _HEADER + context(purpose, record_id)
    return _HEADER + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)
