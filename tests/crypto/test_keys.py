"""Key generation, argument checks and constant-time comparison."""

import hmac
from typing import Any

import pytest

import crypto


def test_keypair_is_raw_x25519() -> None:
    pair = crypto.generate_keypair()
    assert len(pair.private) == 32
    assert len(pair.public) == 32
    assert crypto.public_key_of(pair.private) == pair.public
    assert crypto.generate_keypair().private != pair.private


def test_keypair_repr_hides_private_key() -> None:
    pair = crypto.generate_keypair()
    assert repr(pair.private) not in repr(pair)
    assert "private" not in repr(pair)


def test_random_key() -> None:
    assert len(crypto.random_key()) == 32
    assert crypto.random_key() != crypto.random_key()


def test_constant_time_equal() -> None:
    assert crypto.constant_time_equal(b"abc", b"abc")
    assert not crypto.constant_time_equal(b"abc", b"abd")
    assert not crypto.constant_time_equal(b"abc", b"abcd")


def test_secret_comparisons_use_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert crypto.constant_time_equal(b"x", b"x")
    assert len(calls) == 1
    stored = crypto.hash_password("pw", params=crypto.TEST_ARGON2)
    assert crypto.verify_password(stored, "pw")
    assert not crypto.verify_password(stored, "other")
    assert len(calls) == 3


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_wrong_key_length_raises_value_error(size: int) -> None:
    bad = bytes(size)
    good = bytes(32)
    ctx: dict[str, Any] = {"purpose": "report", "record_id": "r"}
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.public_key_of(bad)
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.seal(bad, b"x", **ctx)
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.open_sealed(bad, b"\x01\x01" + bytes(60), **ctx)
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.box_encrypt(bad, b"x", **ctx)
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.box_decrypt(bad, crypto.box_encrypt(good, b"x", **ctx), **ctx)
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.encrypt_bytes_stream(bad, b"x", **ctx)
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.decrypt_bytes_stream(bad, crypto.encrypt_bytes_stream(good, b"x", **ctx), **ctx)
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.wrap_private_key(bad, "pw", params=crypto.TEST_ARGON2)


def test_key_must_be_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.box_encrypt("k" * 32, b"x", purpose="report", record_id="r")  # type: ignore[arg-type]


@pytest.mark.parametrize("purpose", ["", "a/b", "Report", "bericht ä", "x" * 65])
def test_bad_purpose_raises_value_error(purpose: str) -> None:
    with pytest.raises(ValueError, match="purpose"):
        crypto.box_encrypt(bytes(32), b"x", purpose=purpose, record_id="r")


def test_record_id_must_be_str() -> None:
    with pytest.raises(TypeError, match="record_id"):
        crypto.box_encrypt(bytes(32), b"x", purpose="report", record_id=7)  # type: ignore[arg-type]


def test_low_order_public_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a usable X25519 key"):
        crypto.seal(bytes(32), b"x", purpose="case-key", record_id="c")


def test_derive_subkey_separates_labels_and_is_pinned() -> None:
    from crypto import derive_subkey

    master = bytes(range(32))
    a = derive_subkey(master, "totp-secrets")
    assert len(a) == 32
    assert a == derive_subkey(master, "totp-secrets")
    assert a != derive_subkey(master, "other-use")
    assert a != derive_subkey(bytes(32), "totp-secrets")
    # Known answer: pins the HKDF construction and label format.
    assert a.hex() == "f76bc73ce040d1a52a95fa35d7870508df5dbf681787b6e0e2630e80467da2b0"
