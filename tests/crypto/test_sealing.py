"""HPKE sealing: round trips, and every way of tampering fails with DecryptionError."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto

PAIR = crypto.generate_keypair()
CTX: dict[str, Any] = {"purpose": "case-key", "record_id": "case-0001"}
purposes = st.sampled_from(["case-key", "office-key", "referral-key", "a", "x.y_z-1"])
record_ids = st.text(max_size=40)


def flip(blob: bytes, bit: int) -> bytes:
    out = bytearray(blob)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=50)
@given(plaintext=st.binary(max_size=2000), purpose=purposes, record_id=record_ids)
def test_round_trip(plaintext: bytes, purpose: str, record_id: str) -> None:
    blob = crypto.seal(PAIR.public, plaintext, purpose=purpose, record_id=record_id)
    assert blob[:2] == b"\x01\x01"
    assert len(blob) == 2 + 32 + len(plaintext) + 16
    assert crypto.open_sealed(PAIR.private, blob, purpose=purpose, record_id=record_id) == plaintext


def test_sealing_is_randomised() -> None:
    assert crypto.seal(PAIR.public, b"k", **CTX) != crypto.seal(PAIR.public, b"k", **CTX)


def test_every_flipped_bit_fails() -> None:
    blob = crypto.seal(PAIR.public, b"8 bytes!", **CTX)
    for bit in range(16):
        with pytest.raises(crypto.FormatError):
            crypto.open_sealed(PAIR.private, flip(blob, bit), **CTX)
    for bit in range(16, len(blob) * 8):
        with pytest.raises(crypto.DecryptionError):
            crypto.open_sealed(PAIR.private, flip(blob, bit), **CTX)


def test_every_truncation_fails() -> None:
    blob = crypto.seal(PAIR.public, b"8 bytes!", **CTX)
    for length in range(2):
        with pytest.raises(crypto.FormatError):
            crypto.open_sealed(PAIR.private, blob[:length], **CTX)
    for length in range(2, len(blob)):
        with pytest.raises(crypto.DecryptionError):
            crypto.open_sealed(PAIR.private, blob[:length], **CTX)


@settings(max_examples=25)
@given(extra=st.binary(min_size=1, max_size=64))
def test_appended_bytes_fail(extra: bytes) -> None:
    blob = crypto.seal(PAIR.public, b"secret", **CTX)
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(PAIR.private, blob + extra, **CTX)


def test_wrong_context_or_key_fails() -> None:
    blob = crypto.seal(PAIR.public, b"secret", **CTX)
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(PAIR.private, blob, purpose="office-key", record_id="case-0001")
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(PAIR.private, blob, purpose="case-key", record_id="case-0002")
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(crypto.generate_keypair().private, blob, **CTX)


def test_record_id_cannot_shift_into_purpose() -> None:
    # "case-key" + "x/y" and a purpose "case-key/x" would give the same info string,
    # which is why purposes may not contain "/".
    blob = crypto.seal(PAIR.public, b"secret", purpose="case-key", record_id="x/y")
    with pytest.raises(ValueError, match="purpose"):
        crypto.open_sealed(PAIR.private, blob, purpose="case-key/x", record_id="y")


def test_low_order_encapsulated_key_fails() -> None:
    blob = crypto.seal(PAIR.public, b"secret", **CTX)
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(PAIR.private, blob[:2] + bytes(32) + blob[34:], **CTX)


def test_other_blob_kinds_are_format_errors() -> None:
    box = crypto.box_encrypt(bytes(32), b"x", **CTX)
    with pytest.raises(crypto.FormatError, match="kind"):
        crypto.open_sealed(PAIR.private, box, **CTX)
    sealed = crypto.seal(PAIR.public, b"x", **CTX)
    with pytest.raises(crypto.FormatError, match="version"):
        crypto.open_sealed(PAIR.private, b"\x02" + sealed[1:], **CTX)
