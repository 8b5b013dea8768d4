"""Receipt codes: generation, formatting, normalisation and key derivation."""

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto import passwords, receipts

SALT = b"installation-salt"
PEPPER = b"configured-pepper"
codes = st.text(alphabet="0123456789", min_size=16, max_size=16)


def derive(code: str, salt: bytes = SALT, pepper: bytes = PEPPER) -> crypto.ReceiptKeys:
    return crypto.derive_receipt_keys(code, salt=salt, pepper=pepper, params=crypto.TEST_ARGON2)


def test_generated_codes_are_16_ascii_digits() -> None:
    generated = {crypto.generate_receipt_code() for _ in range(200)}
    assert len(generated) == 200
    for code in generated:
        assert len(code) == crypto.RECEIPT_DIGITS == 16
        assert code.isascii()
        assert code.isdigit()


def test_generation_is_uniform_and_zero_padded(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def fake_randbelow(n: int) -> int:
        seen.append(n)
        return 42

    monkeypatch.setattr(secrets, "randbelow", fake_randbelow)
    assert crypto.generate_receipt_code() == "0000000000000042"
    # One draw over the whole range: randbelow rejects samples, so no modulo bias.
    assert seen == [10**16]


def test_format() -> None:
    assert crypto.format_receipt_code("1234567890123456") == "1234 5678 9012 3456"
    assert crypto.format_receipt_code("1234-5678-9012-3456") == "1234 5678 9012 3456"


@settings(max_examples=100)
@given(
    code=codes,
    separators=st.lists(st.sampled_from([" ", "-", ".", "\u00a0", "\u2013", "\t", ""]), min_size=17),
)
def test_normalise_removes_any_grouping(code: str, separators: list[str]) -> None:
    typed = "".join(sep + digit for sep, digit in zip(separators, code, strict=False))
    typed += separators[16]
    assert crypto.normalise_receipt_code(typed) == code
    assert crypto.normalise_receipt_code(crypto.format_receipt_code(code)) == code


def test_normalise_accepts_full_width_digits() -> None:
    assert crypto.normalise_receipt_code("１２３４ ５６７８ ９０１２ ３４５６") == "1234567890123456"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "123456789012345",
        "12345678901234567",
        "1234 5678 9012 345x",
        "1234_5678_9012_3456",
        "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦",  # Arabic-Indic digits are digits, but not ours
        "+234567890123456",
    ],
)
def test_normalise_rejects(text: str) -> None:
    with pytest.raises(crypto.InvalidReceiptCode) as info:
        crypto.normalise_receipt_code(text)
    if text:
        assert text not in str(info.value)


@settings(max_examples=20, deadline=None)
@given(code=codes)
def test_derivation_is_deterministic_and_separates_keys(code: str) -> None:
    keys = derive(code)
    assert keys == derive(crypto.format_receipt_code(code))
    assert len(keys.lookup_id) == len(keys.reporter_key) == 32
    assert keys.lookup_id != keys.reporter_key


def test_derivation_depends_on_code_salt_and_pepper() -> None:
    base = derive("1234567890123456")
    assert derive("1234567890123457") != base
    assert derive("1234567890123456", salt=b"other-salt-bytes") != base
    assert derive("1234567890123456", pepper=b"another-pepper!!") != base


def test_short_salt_or_pepper_is_rejected() -> None:
    with pytest.raises(ValueError, match="salt and pepper"):
        derive("1234567890123456", salt=b"short")
    with pytest.raises(ValueError, match="salt and pepper"):
        derive("1234567890123456", pepper=b"")


def test_invalid_code_does_not_derive() -> None:
    with pytest.raises(crypto.InvalidReceiptCode):
        derive("1234")


def test_one_argon2_run_for_every_code(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = passwords.argon2id_derive

    def counting(secret: bytes, *args: object, **kwargs: object) -> bytes:
        calls.append(secret)
        return real(secret, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(receipts, "argon2id_derive", counting)
    derive("0000 0000 0000 0000")
    derive("9999-9999-9999-9999")
    assert calls == [b"0000000000000000", b"9999999999999999"]


def test_repr_hides_reporter_key() -> None:
    keys = derive("1234567890123456")
    assert repr(keys.reporter_key) not in repr(keys)
    assert "reporter_key" not in repr(keys)
