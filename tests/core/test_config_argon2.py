"""Issue 13, item 6: production refuses the test cost of Argon2id, and the notification key's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Config, ConfigError
from crypto import PRODUCTION_ARGON2, TEST_ARGON2, Argon2Params

PRODUCTION = {
    "KOMMA_ENV": "production",
    "KOMMA_SECRET_KEY": "s" * 40,
    "KOMMA_RECEIPT_PEPPER": "p" * 40,
    "KOMMA_KEY_BINDING_KEY": "b" * 40,
    "KOMMA_AUDIT_KEY": "a" * 40,
    "KOMMA_NOTIFY_KEY": "n" * 40,
    "KOMMA_DATABASE_URL": "postgresql+psycopg://db/komma",
}


def test_production_refuses_komma_argon2_test(tmp_path: Path) -> None:
    # The attack: one environment line makes every receipt code and password cheap to guess offline.
    with pytest.raises(ConfigError, match="KOMMA_ARGON2"):
        Config.from_env({**PRODUCTION, "KOMMA_INSTANCE_PATH": str(tmp_path), "KOMMA_ARGON2": "test"})
    weaker = Argon2Params(memory_kib=PRODUCTION_ARGON2.memory_kib // 2, iterations=4, lanes=1)
    with pytest.raises(ConfigError, match="KOMMA_ARGON2"):
        Config.from_env({**PRODUCTION, "KOMMA_INSTANCE_PATH": str(tmp_path)}, argon2=weaker)
    assert Config.from_env({**PRODUCTION, "KOMMA_INSTANCE_PATH": str(tmp_path)}).argon2 == PRODUCTION_ARGON2


def test_development_and_tests_may_use_the_test_cost(tmp_path: Path) -> None:
    assert Config.from_env({"KOMMA_INSTANCE_PATH": str(tmp_path), "KOMMA_ARGON2": "test"}).argon2 == TEST_ARGON2
    # A test that builds a production app (testing=True) keeps the fast parameters.
    testing = Config.from_env({**PRODUCTION, "KOMMA_INSTANCE_PATH": str(tmp_path)}, argon2=TEST_ARGON2, testing=True)
    assert testing.production
    assert testing.argon2 == TEST_ARGON2


def test_production_refuses_to_start_without_a_notification_key(tmp_path: Path) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != "KOMMA_NOTIFY_KEY"} | {"KOMMA_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match="KOMMA_NOTIFY_KEY"):
        Config.from_env(environ)
    with pytest.raises(ConfigError, match="KOMMA_NOTIFY_KEY must differ"):
        Config.from_env({**environ, "KOMMA_NOTIFY_KEY": "s" * 40})
    assert not (tmp_path / "notify_key").exists()


def test_notification_keys_from_a_file_and_previous_ones(tmp_path: Path) -> None:
    key_file = tmp_path / "notify.key"
    key_file.write_text("f" * 40 + "\n")
    config = Config.from_env(
        {
            **{k: v for k, v in PRODUCTION.items() if k != "KOMMA_NOTIFY_KEY"},
            "KOMMA_INSTANCE_PATH": str(tmp_path),
            "KOMMA_NOTIFY_KEY_FILE": str(key_file),
            "KOMMA_NOTIFY_KEY_PREVIOUS": "o" * 40 + ", " + "q" * 40,
        }
    )
    assert config.notify_keys == (b"f" * 40, b"o" * 40, b"q" * 40)
    assert "fff" not in repr(config)


def test_development_generates_a_notification_key_once(tmp_path: Path) -> None:
    first = Config.from_env({"KOMMA_INSTANCE_PATH": str(tmp_path)})
    assert len(first.notify_key) >= 32
    assert first.notify_key not in (first.secret_key.encode(), first.receipt_pepper)
    assert Config.from_env({"KOMMA_INSTANCE_PATH": str(tmp_path)}).notify_key == first.notify_key
