"""Cryptography for Komm.A: sealing, secret boxes, streams, passwords, receipt codes."""

from . import work
from .binding import bind_public_key, fingerprint, verify_binding
from .errors import CryptoError, DecryptionError, FormatError, InvalidReceiptCode
from .keys import KeyPair, constant_time_equal, derive_subkey, generate_keypair, public_key_of, random_key
from .mac import mac, verify_mac
from .passwords import (
    LEGACY_PRODUCTION_ARGON2,
    PRODUCTION_ARGON2,
    TEST_ARGON2,
    Argon2Params,
    hash_password,
    password_hash_needs_update,
    unwrap_private_key,
    verify_password,
    wrap_private_key,
    wrapped_key_needs_update,
)
from .receipts import (
    RECEIPT_DIGITS,
    ReceiptKeys,
    derive_receipt_keys,
    format_receipt_code,
    generate_receipt_code,
    normalise_receipt_code,
)
from .sealing import open_sealed, seal
from .secretbox import box_decrypt, box_encrypt
from .streams import (
    DEFAULT_CHUNK_SIZE,
    decrypt_bytes_stream,
    decrypt_stream,
    encrypt_bytes_stream,
    encrypt_stream,
    iter_decrypt_stream,
)
from .work import solve as solve_work
from .work import work_done

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "LEGACY_PRODUCTION_ARGON2",
    "PRODUCTION_ARGON2",
    "RECEIPT_DIGITS",
    "TEST_ARGON2",
    "Argon2Params",
    "CryptoError",
    "DecryptionError",
    "FormatError",
    "InvalidReceiptCode",
    "KeyPair",
    "ReceiptKeys",
    "bind_public_key",
    "box_decrypt",
    "box_encrypt",
    "constant_time_equal",
    "decrypt_bytes_stream",
    "decrypt_stream",
    "derive_receipt_keys",
    "derive_subkey",
    "encrypt_bytes_stream",
    "encrypt_stream",
    "fingerprint",
    "format_receipt_code",
    "generate_keypair",
    "generate_receipt_code",
    "hash_password",
    "iter_decrypt_stream",
    "mac",
    "normalise_receipt_code",
    "open_sealed",
    "password_hash_needs_update",
    "public_key_of",
    "random_key",
    "seal",
    "solve_work",
    "unwrap_private_key",
    "verify_binding",
    "verify_mac",
    "verify_password",
    "work",
    "work_done",
    "wrap_private_key",
    "wrapped_key_needs_update",
]
