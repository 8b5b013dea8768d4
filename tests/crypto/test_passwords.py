"""Argon2id: password-wrapped private keys and login password hashes."""

import struct
import unicodedata

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto.passwords import MAX_MEMORY_KIB

FAST = crypto.TEST_ARGON2
PRIVATE = crypto.generate_keypair().private


def flip(blob: bytes, bit: int) -> bytes:
    out = bytearray(blob)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=30, deadline=None)
@given(password=st.text(max_size=40), purpose=st.sampled_from(["account-key", "partner-key"]))
def test_wrap_round_trip(password: str, purpose: str) -> None:
    blob = crypto.wrap_private_key(PRIVATE, password, params=FAST, purpose=purpose)
    assert len(blob) == 90
    assert crypto.unwrap_private_key(blob, password, purpose=purpose) == PRIVATE


def test_parameters_are_stored_in_the_header() -> None:
    params = crypto.Argon2Params(memory_kib=32, iterations=2, lanes=2)
    blob = crypto.wrap_private_key(PRIVATE, "pw", params=params)
    assert blob[:14] == b"\x01\x04" + struct.pack(">III", 32, 2, 2)
    assert crypto.unwrap_private_key(blob, "pw") == PRIVATE


def test_wrong_password_or_purpose_fails() -> None:
    blob = crypto.wrap_private_key(PRIVATE, "richtig", params=FAST)
    with pytest.raises(crypto.DecryptionError):
        crypto.unwrap_private_key(blob, "falsch")
    with pytest.raises(crypto.DecryptionError):
        crypto.unwrap_private_key(blob, "richtig", purpose="partner-key")


def test_unicode_forms_of_a_password_are_equal() -> None:
    composed = unicodedata.normalize("NFC", "Grüße")
    decomposed = unicodedata.normalize("NFD", "Grüße")
    assert composed != decomposed
    blob = crypto.wrap_private_key(PRIVATE, composed, params=FAST)
    assert crypto.unwrap_private_key(blob, decomposed) == PRIVATE
    assert crypto.verify_password(crypto.hash_password(decomposed, params=FAST), composed)


def test_every_flipped_bit_outside_the_parameters_fails() -> None:
    blob = crypto.wrap_private_key(PRIVATE, "pw", params=FAST)
    for bit in range(16):
        with pytest.raises(crypto.FormatError):
            crypto.unwrap_private_key(flip(blob, bit), "pw")
    for bit in range(14 * 8, len(blob) * 8):  # salt, nonce, ciphertext, tag
        with pytest.raises(crypto.DecryptionError):
            crypto.unwrap_private_key(flip(blob, bit), "pw")


def test_flipped_parameter_bits_fail() -> None:
    blob = crypto.wrap_private_key(PRIVATE, "pw", params=FAST)
    for start in (2, 6, 10):  # memory, iterations, lanes
        value = int.from_bytes(blob[start : start + 4], "big")
        for bit in range(32):
            # Memory bits 10-19 would make the derivation itself need 1-512 MiB: skipped for
            # speed; the associated data covers them exactly like the bits tested here.
            if start == 2 and 10 <= bit <= 19:
                continue
            field = (value ^ (1 << bit)).to_bytes(4, "big")
            with pytest.raises(crypto.CryptoError):
                crypto.unwrap_private_key(blob[:start] + field + blob[start + 4 :], "pw")


def test_out_of_range_parameters_are_format_errors() -> None:
    blob = crypto.wrap_private_key(PRIVATE, "pw", params=FAST)
    for memory, iterations, lanes in [(MAX_MEMORY_KIB + 1, 1, 1), (8, 0, 1), (8, 1, 0), (8, 1, 2)]:
        bad = blob[:2] + struct.pack(">III", memory, iterations, lanes) + blob[14:]
        with pytest.raises(crypto.FormatError):
            crypto.unwrap_private_key(bad, "pw")


def test_truncated_or_extended_blob_fails() -> None:
    blob = crypto.wrap_private_key(PRIVATE, "pw", params=FAST)
    for length in range(2, len(blob)):
        with pytest.raises(crypto.DecryptionError):
            crypto.unwrap_private_key(blob[:length], "pw")
    with pytest.raises(crypto.DecryptionError):
        crypto.unwrap_private_key(blob + b"\x00", "pw")
    with pytest.raises(crypto.FormatError):
        crypto.unwrap_private_key(blob[:1], "pw")


@pytest.mark.parametrize(
    ("memory_kib", "iterations", "lanes", "message"),
    [
        (7, 1, 1, "memory_kib"),
        (15, 1, 2, "memory_kib"),
        (MAX_MEMORY_KIB + 1, 1, 1, "memory_kib"),
        (8, 0, 1, "iterations"),
        (8, 65, 1, "iterations"),
        (8, 1, 0, "lanes"),
    ],
)
def test_argon2_params_are_validated(memory_kib: int, iterations: int, lanes: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        crypto.Argon2Params(memory_kib=memory_kib, iterations=iterations, lanes=lanes)


def test_production_params() -> None:
    assert crypto.PRODUCTION_ARGON2.memory_kib >= 65536
    assert crypto.Argon2Params(memory_kib=8, iterations=1, lanes=1) == crypto.TEST_ARGON2


@settings(max_examples=30, deadline=None)
@given(password=st.text(max_size=40), other=st.text(max_size=40))
def test_password_hash_round_trip(password: str, other: str) -> None:
    stored = crypto.hash_password(password, params=FAST)
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert crypto.verify_password(stored, password)
    same = unicodedata.normalize("NFC", other) == unicodedata.normalize("NFC", password)
    assert crypto.verify_password(stored, other) == same


def test_password_hashes_are_salted() -> None:
    assert crypto.hash_password("pw", params=FAST) != crypto.hash_password("pw", params=FAST)


def test_hash_is_a_standard_phc_string() -> None:
    ours = crypto.hash_password("Passwort", params=FAST)
    Argon2id.verify_phc_encoded(b"Passwort", ours)
    theirs = Argon2id(salt=b"s" * 16, length=32, iterations=2, lanes=1, memory_cost=16)
    assert crypto.verify_password(theirs.derive_phc_encoded(b"Passwort"), "Passwort")


def test_needs_update() -> None:
    stored = crypto.hash_password("pw", params=FAST)
    assert not crypto.password_hash_needs_update(stored, FAST)
    assert crypto.password_hash_needs_update(stored, crypto.PRODUCTION_ARGON2)
    short_salt = Argon2id(salt=b"s" * 8, length=32, iterations=1, lanes=1, memory_cost=8)
    assert crypto.password_hash_needs_update(short_salt.derive_phc_encoded(b"pw"), FAST)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$argon2id$v=16$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$argon2id$v=19$m=8,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoa",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo$",
    ],
)
def test_malformed_hash_is_a_format_error(stored: str) -> None:
    with pytest.raises(crypto.FormatError):
        crypto.verify_password(stored, "pw")
    with pytest.raises(crypto.FormatError):
        crypto.password_hash_needs_update(stored, FAST)
