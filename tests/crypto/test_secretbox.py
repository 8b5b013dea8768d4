"""AES-GCM secret box: round trips, and every way of tampering fails with DecryptionError."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto

KEY = crypto.random_key()
CTX: dict[str, Any] = {"purpose": "report", "record_id": "case-0001"}


def flip(blob: bytes, bit: int) -> bytes:
    out = bytearray(blob)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=50)
@given(
    plaintext=st.binary(max_size=2000),
    purpose=st.sampled_from(["report", "message", "note", "session"]),
    record_id=st.text(max_size=40),
)
def test_round_trip(plaintext: bytes, purpose: str, record_id: str) -> None:
    blob = crypto.box_encrypt(KEY, plaintext, purpose=purpose, record_id=record_id)
    assert blob[:2] == b"\x01\x02"
    assert len(blob) == 2 + 12 + len(plaintext) + 16
    assert crypto.box_decrypt(KEY, blob, purpose=purpose, record_id=record_id) == plaintext


def test_nonces_are_random() -> None:
    first = crypto.box_encrypt(KEY, b"same", **CTX)
    second = crypto.box_encrypt(KEY, b"same", **CTX)
    assert first[2:14] != second[2:14]


@pytest.mark.parametrize("plaintext", [b"", b"a short report"])
def test_every_flipped_bit_fails(plaintext: bytes) -> None:
    blob = crypto.box_encrypt(KEY, plaintext, **CTX)
    for bit in range(16):
        with pytest.raises(crypto.FormatError):
            crypto.box_decrypt(KEY, flip(blob, bit), **CTX)
    for bit in range(16, len(blob) * 8):
        with pytest.raises(crypto.DecryptionError):
            crypto.box_decrypt(KEY, flip(blob, bit), **CTX)


def test_every_truncation_fails() -> None:
    blob = crypto.box_encrypt(KEY, b"a short report", **CTX)
    for length in range(2):
        with pytest.raises(crypto.FormatError):
            crypto.box_decrypt(KEY, blob[:length], **CTX)
    for length in range(2, len(blob)):
        with pytest.raises(crypto.DecryptionError):
            crypto.box_decrypt(KEY, blob[:length], **CTX)


@settings(max_examples=25)
@given(extra=st.binary(min_size=1, max_size=64))
def test_appended_bytes_fail(extra: bytes) -> None:
    blob = crypto.box_encrypt(KEY, b"report", **CTX)
    with pytest.raises(crypto.DecryptionError):
        crypto.box_decrypt(KEY, blob + extra, **CTX)


def test_wrong_context_or_key_fails() -> None:
    blob = crypto.box_encrypt(KEY, b"report", **CTX)
    with pytest.raises(crypto.DecryptionError):
        crypto.box_decrypt(KEY, blob, purpose="message", record_id="case-0001")
    with pytest.raises(crypto.DecryptionError):
        crypto.box_decrypt(KEY, blob, purpose="report", record_id="case-0002")
    with pytest.raises(crypto.DecryptionError):
        crypto.box_decrypt(crypto.random_key(), blob, **CTX)


def test_box_is_not_a_stream() -> None:
    blob = crypto.encrypt_bytes_stream(KEY, b"report", **CTX)
    with pytest.raises(crypto.FormatError, match="kind"):
        crypto.box_decrypt(KEY, blob, **CTX)
