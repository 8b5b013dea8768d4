"""Key binding tags: an HMAC over purpose, owner and public key; fingerprints for people."""

import hmac

import pytest

import crypto

BINDING_KEY = b"k" * 32


def _tag(public_key: bytes, *, purpose: str = "office-key", kind: str = "municipality", owner: str = "m1") -> bytes:
    return crypto.bind_public_key(BINDING_KEY, purpose=purpose, owner_kind=kind, owner_id=owner, public_key=public_key)


def _verifies(tag: bytes | None, public_key: bytes, **changed: str) -> bool:
    fields = {"purpose": "office-key", "owner_kind": "municipality", "owner_id": "m1", **changed}
    return crypto.verify_binding(BINDING_KEY, tag, public_key=public_key, **fields)


def test_a_tag_verifies_only_for_its_key_owner_and_purpose() -> None:
    key = crypto.generate_keypair().public
    tag = _tag(key)
    assert len(tag) == 32
    assert _verifies(tag, key)
    assert not _verifies(tag, crypto.generate_keypair().public)
    assert not _verifies(tag, key, owner_id="m2")
    assert not _verifies(tag, key, owner_kind="account")
    assert not _verifies(tag, key, purpose="partner-key")
    assert not crypto.verify_binding(
        b"o" * 32, tag, purpose="office-key", owner_kind="municipality", owner_id="m1", public_key=key
    )


def test_missing_or_damaged_tags_do_not_verify() -> None:
    key = crypto.generate_keypair().public
    tag = _tag(key)
    assert not _verifies(None, key)
    assert not _verifies(b"", key)
    assert not _verifies(tag[:-1], key)
    assert not _verifies(bytes([tag[0] ^ 1]) + tag[1:], key)


def test_fields_cannot_slide_into_each_other() -> None:
    key = crypto.generate_keypair().public
    assert _tag(key, kind="ab", owner="c") != _tag(key, kind="a", owner="bc")
    assert _tag(key, purpose="a", kind="bc") != _tag(key, purpose="ab", kind="c")


def test_the_tag_is_hmac_sha256_under_the_binding_key() -> None:
    key = bytes(range(32))
    message = b"komma/v1/key-binding" + b"".join(
        len(part).to_bytes(4, "big") + part for part in (b"office-key", b"municipality", b"m1", key)
    )
    assert _tag(key) == hmac.new(BINDING_KEY, message, "sha256").digest()


def test_verification_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    key = crypto.generate_keypair().public
    assert _verifies(_tag(key), key)
    assert calls


@pytest.mark.parametrize(
    "arguments",
    [
        {"binding_key": b"short"},
        {"public_key": b"x" * 31},
        {"purpose": ""},
        {"owner_id": ""},
    ],
)
def test_bad_arguments_are_programming_errors(arguments: dict[str, object]) -> None:
    values: dict[str, object] = {
        "binding_key": BINDING_KEY,
        "purpose": "office-key",
        "owner_kind": "municipality",
        "owner_id": "m1",
        "public_key": b"p" * 32,
        **arguments,
    }
    binding_key = values.pop("binding_key")
    with pytest.raises(ValueError, match="must"):
        crypto.bind_public_key(binding_key, **values)  # type: ignore[arg-type]


def test_fingerprint_is_short_stable_and_differs_per_key() -> None:
    key = crypto.generate_keypair().public
    printed = crypto.fingerprint(key)
    assert printed == crypto.fingerprint(key)
    assert len(printed.split(" ")) == 8
    assert all(len(group) == 4 for group in printed.split(" "))
    assert printed != crypto.fingerprint(crypto.generate_keypair().public)
