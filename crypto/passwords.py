"""Argon2id for login password hashes and for password-protected private keys.

Wrapped private key layout (90 bytes):
    version (1) | kind 0x04 (1) | memory KiB (4) | iterations (4) | lanes (4) | salt (16)
    | nonce (12) | AES-256-GCM ciphertext of the 32-byte key (32) | tag (16)
Integers are big-endian. The AES key is Argon2id(password, salt, params); the associated
data is the first 30 bytes (header, parameters, salt) + b"komma/v1/" + purpose + b"/".

Login hashes are standard PHC strings, "$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>" with
unpadded base64, so other Argon2 libraries can verify them too.
"""

import base64
import os
import re
import secrets
import struct
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from ._blob import KEY_SIZE, VERSION, Kind, check_header, check_key, context
from .errors import DecryptionError, FormatError
from .keys import constant_time_equal

SALT_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
# Bounds for parameters read back from storage, so a damaged or hostile blob cannot make us
# allocate gigabytes or spin for minutes.
MAX_MEMORY_KIB = 1024 * 1024
MAX_ITERATIONS = 64
MAX_LANES = 64


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters: memory in KiB, passes over memory, parallel lanes."""

    memory_kib: int
    iterations: int
    lanes: int

    def __post_init__(self) -> None:
        if not 1 <= self.lanes <= MAX_LANES:
            raise ValueError(f"lanes must be between 1 and {MAX_LANES}")
        # Argon2 itself requires at least 8 KiB per lane.
        if not 8 * self.lanes <= self.memory_kib <= MAX_MEMORY_KIB:
            raise ValueError(f"memory_kib must be between 8 * lanes and {MAX_MEMORY_KIB}")
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS}")

    def encode(self) -> str:
        """The parameters as stored beside a derived value: "m=65536,t=4,p=1"."""
        return f"m={self.memory_kib},t={self.iterations},p={self.lanes}"

    @classmethod
    def decode(cls, text: str) -> "Argon2Params":
        """Parameters read back from storage; FormatError for anything not made by encode()."""
        match = _ENCODED.fullmatch(text)
        if match is None:
            raise FormatError("not an encoding of Argon2 parameters")
        return _stored_params(*(int(group) for group in match.groups()))


# One lane, 64 MiB, four passes. The memory-time product an attacker pays per guess is that of
# the parameters used before (64 MiB, t=4, p=4): lanes only let the defender spread one
# derivation over cores, and with cryptography 50's bundled OpenSSL two multi-lane derivations
# in two threads of one process never return. One lane takes ~0.25 s on the 2-core container
# (bench/crypto_bench.py); concurrency across requests comes from running several at once.
PRODUCTION_ARGON2 = Argon2Params(memory_kib=65536, iterations=4, lanes=1)
# What production used before 0.2 (migration 0007): still opened, re-wrapped on next use.
LEGACY_PRODUCTION_ARGON2 = Argon2Params(memory_kib=65536, iterations=4, lanes=4)
# The smallest parameters Argon2id accepts; for tests only, it protects nothing.
TEST_ARGON2 = Argon2Params(memory_kib=8, iterations=1, lanes=1)

_WRAP_HEAD = struct.Struct(">BBIII16s")
_WRAPPED_SIZE = _WRAP_HEAD.size + NONCE_SIZE + KEY_SIZE + TAG_SIZE
_ENCODED = re.compile(r"m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})")
_PHC = re.compile(
    r"\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})"
    r"\$([A-Za-z0-9+/]{11,88})\$([A-Za-z0-9+/]{6,88})"
)


class _Gate:
    """How many derivations one process runs at once, and that multi-lane ones run alone.

    Every derivation holds one of `cpu_count` slots: more at once only adds latency and 64 MiB
    each. A derivation with more than one lane also holds the multi-lane lock, because two of
    them at once in one process hang inside OpenSSL (cryptography 50.0.2); single-lane ones
    beside it are safe. Fresh locks after fork, so a child never inherits one held by a thread
    that does not exist there.
    """

    def __init__(self) -> None:
        self.slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))
        self.multi_lane = threading.Lock()

    @contextmanager
    def held(self, lanes: int) -> Iterator[None]:
        if lanes == 1:
            with self.slots:
                yield
            return
        # The lock first, so a multi-lane derivation waiting its turn does not hold a slot.
        with self.multi_lane, self.slots:
            yield


_gate = _Gate()


def _renew_gate() -> None:
    global _gate
    _gate = _Gate()


os.register_at_fork(after_in_child=_renew_gate)


def argon2id_derive(
    secret: bytes,
    salt: bytes,
    params: Argon2Params,
    *,
    length: int = KEY_SIZE,
    pepper: bytes | None = None,
    ad: bytes | None = None,
) -> bytes:
    """One Argon2id derivation; pepper goes into Argon2's own secret-key input.

    Safe from any number of threads: see _Gate for what runs at once.
    """
    kdf = Argon2id(
        salt=salt,
        length=length,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
        secret=pepper,
        ad=ad,
    )
    with _gate.held(params.lanes):
        return kdf.derive(secret)


def wrap_private_key(
    private: bytes,
    password: str,
    *,
    params: Argon2Params = PRODUCTION_ARGON2,
    purpose: str = "account-key",
) -> bytes:
    """Encrypt a 32-byte private key under a password; parameters travel inside the blob."""
    check_key(private, "private key")
    ctx = context(purpose, "")
    salt = secrets.token_bytes(SALT_SIZE)
    nonce = secrets.token_bytes(NONCE_SIZE)
    head = _WRAP_HEAD.pack(VERSION, Kind.WRAPPED_KEY, params.memory_kib, params.iterations, params.lanes, salt)
    key = argon2id_derive(_password_bytes(password), salt, params)
    return head + nonce + AESGCM(key).encrypt(nonce, private, head + ctx)


def unwrap_private_key(blob: bytes, password: str, *, purpose: str = "account-key") -> bytes:
    """Recover the private key; DecryptionError on a wrong password or a damaged blob."""
    ctx = context(purpose, "")
    params, salt = _wrapped_params(blob)
    head = blob[: _WRAP_HEAD.size]
    nonce = blob[_WRAP_HEAD.size : _WRAP_HEAD.size + NONCE_SIZE]
    key = argon2id_derive(_password_bytes(password), salt, params)
    try:
        return AESGCM(key).decrypt(nonce, blob[_WRAP_HEAD.size + NONCE_SIZE :], head + ctx)
    except InvalidTag:
        raise DecryptionError("wrong password or damaged key blob") from None


def wrapped_key_needs_update(blob: bytes, params: Argon2Params = PRODUCTION_ARGON2) -> bool:
    """True if the key was wrapped with other parameters; re-wrap after the next good unwrap."""
    return _wrapped_params(blob)[0] != params


def _wrapped_params(blob: bytes) -> tuple[Argon2Params, bytes]:
    """The Argon2 parameters and salt in a wrapped key's header, checked."""
    check_header(blob, Kind.WRAPPED_KEY)
    if len(blob) != _WRAPPED_SIZE:
        raise DecryptionError("wrapped key has the wrong length")
    _, _, memory_kib, iterations, lanes, salt = _WRAP_HEAD.unpack_from(blob)
    return _stored_params(memory_kib, iterations, lanes), salt


def hash_password(password: str, *, params: Argon2Params = PRODUCTION_ARGON2) -> str:
    """A self-describing Argon2id hash (PHC string) of a login password."""
    salt = secrets.token_bytes(SALT_SIZE)
    digest = argon2id_derive(_password_bytes(password), salt, params)
    return f"$argon2id$v=19$m={params.memory_kib},t={params.iterations},p={params.lanes}${_b64(salt)}${_b64(digest)}"


def verify_password(stored: str, password: str) -> bool:
    """Check a password against a stored hash; FormatError if the hash is not ours."""
    params, salt, expected = _parse_hash(stored)
    actual = argon2id_derive(_password_bytes(password), salt, params, length=len(expected))
    return constant_time_equal(actual, expected)


def password_hash_needs_update(stored: str, params: Argon2Params = PRODUCTION_ARGON2) -> bool:
    """True if the hash was made with other parameters or sizes; rehash after a good login."""
    stored_params, salt, digest = _parse_hash(stored)
    return stored_params != params or len(salt) != SALT_SIZE or len(digest) != KEY_SIZE


def _password_bytes(password: str) -> bytes:
    # NFC, as RFC 8265 does for passwords: "ä" typed as one code point or as "a" plus a
    # combining mark (macOS keyboards) must be the same password.
    return unicodedata.normalize("NFC", password).encode("utf-8")


def _stored_params(memory_kib: int, iterations: int, lanes: int) -> Argon2Params:
    try:
        return Argon2Params(memory_kib=memory_kib, iterations=iterations, lanes=lanes)
    except ValueError as exc:
        raise FormatError(f"stored Argon2 parameters rejected: {exc}") from None


def _parse_hash(stored: str) -> tuple[Argon2Params, bytes, bytes]:
    match = _PHC.fullmatch(stored)
    if match is None:
        raise FormatError("not an Argon2id PHC string")
    memory, iterations, lanes, salt, digest = match.groups()
    params = _stored_params(int(memory), int(iterations), int(lanes))
    return params, _unb64(salt), _unb64(digest)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise FormatError("bad base64 in password hash") from None
