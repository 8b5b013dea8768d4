"""Configuration: embedded defaults, and a production mode that refuses unsafe setups."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.config import Config, ConfigError


def test_embedded_defaults_use_sqlite_in_the_instance_folder_and_inline_jobs(tmp_path: Path) -> None:
    config = Config.from_env({"KOMMA_INSTANCE_PATH": str(tmp_path)})
    assert config.database_url == f"sqlite:///{tmp_path / 'komma.sqlite3'}"
    assert config.redis_url is None
    assert not config.production
    # Development secrets are created once and kept, so a restart keeps sessions valid.
    assert len(config.secret_key) >= 32
    assert Config.from_env({"KOMMA_INSTANCE_PATH": str(tmp_path)}).secret_key == config.secret_key
    assert config.secret_key.encode() != config.receipt_pepper


def test_config_is_frozen(tmp_path: Path) -> None:
    config = Config.from_env({"KOMMA_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.env = "production"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "KOMMA_SECRET_KEY"),
        ({"KOMMA_SECRET_KEY": "s" * 40}, "KOMMA_RECEIPT_PEPPER"),
        ({"KOMMA_SECRET_KEY": "s" * 40, "KOMMA_RECEIPT_PEPPER": "s" * 40}, "must differ"),
        ({"KOMMA_SECRET_KEY": "short", "KOMMA_RECEIPT_PEPPER": "p" * 40}, "KOMMA_SECRET_KEY"),
        ({"KOMMA_SECRET_KEY": "s" * 40, "KOMMA_RECEIPT_PEPPER": "p" * 40}, "KOMMA_KEY_BINDING_KEY"),
        (
            {"KOMMA_SECRET_KEY": "s" * 40, "KOMMA_RECEIPT_PEPPER": "p" * 40, "KOMMA_KEY_BINDING_KEY": "s" * 40},
            "KOMMA_KEY_BINDING_KEY must differ",
        ),
        (
            {
                "KOMMA_SECRET_KEY": "s" * 40,
                "KOMMA_RECEIPT_PEPPER": "p" * 40,
                "KOMMA_KEY_BINDING_KEY": "b" * 40,
                "KOMMA_NOTIFY_KEY": "n" * 40,
                "KOMMA_AUDIT_KEY": "a" * 40,
            },
            "KOMMA_DATABASE_URL",
        ),
    ],
)
def test_production_refuses_to_start_without_secrets(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    environ = {"KOMMA_ENV": "production", "KOMMA_INSTANCE_PATH": str(tmp_path), **environ}
    with pytest.raises(ConfigError, match=message):
        Config.from_env(environ)
    assert not (tmp_path / "secret_key").exists()


def test_production_with_secrets_starts(tmp_path: Path) -> None:
    config = Config.from_env(
        {
            "KOMMA_ENV": "production",
            "KOMMA_SECRET_KEY": "s" * 40,
            "KOMMA_RECEIPT_PEPPER": "p" * 40,
            "KOMMA_KEY_BINDING_KEY": "b" * 40,
            "KOMMA_NOTIFY_KEY": "n" * 40,
            "KOMMA_AUDIT_KEY": "a" * 40,
            "KOMMA_DATABASE_URL": "postgresql+psycopg://db/komma",
            "KOMMA_REDIS_URL": "redis://localhost:6379/0",
        }
    )
    assert config.production
    assert config.redis_url == "redis://localhost:6379/0"


@pytest.mark.parametrize("value", ["abc", "0", "-3"])
def test_bad_numbers_are_refused_with_the_variable_named(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="KOMMA_MAX_FILES"):
        Config.from_env({"KOMMA_INSTANCE_PATH": str(tmp_path), "KOMMA_MAX_FILES": value})


def test_unknown_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="KOMMA_ENV"):
        Config.from_env({"KOMMA_INSTANCE_PATH": str(tmp_path), "KOMMA_ENV": "staging"})


AUDIT_READY = {
    "KOMMA_ENV": "production",
    "KOMMA_SECRET_KEY": "s" * 40,
    "KOMMA_RECEIPT_PEPPER": "p" * 40,
    "KOMMA_KEY_BINDING_KEY": "b" * 40,
    "KOMMA_NOTIFY_KEY": "n" * 40,
    "KOMMA_DATABASE_URL": "postgresql+psycopg://db/komma",
}


@pytest.mark.parametrize(
    ("audit", "message"),
    [
        ({}, "KOMMA_AUDIT_KEY"),
        ({"KOMMA_AUDIT_KEY": "short"}, "KOMMA_AUDIT_KEY"),
        ({"KOMMA_AUDIT_KEY": "s" * 40}, "differ"),
    ],
)
def test_production_refuses_to_start_without_its_own_audit_key(
    tmp_path: Path, audit: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_env({**AUDIT_READY, "KOMMA_INSTANCE_PATH": str(tmp_path), **audit})
    assert not (tmp_path / "audit_key").exists()


def test_the_audit_key_comes_from_a_file_and_the_anchors_go_where_configured(tmp_path: Path) -> None:
    (tmp_path / "audit.key").write_text("k" * 40 + "\n")
    config = Config.from_env(
        {
            **AUDIT_READY,
            "KOMMA_AUDIT_KEY_FILE": str(tmp_path / "audit.key"),
            "KOMMA_AUDIT_ANCHOR_DIR": str(tmp_path / "shipped"),
        }
    )
    assert config.audit_key == b"k" * 40
    assert config.audit_anchor_dir == tmp_path / "shipped"
    assert "k" * 40 not in repr(config)


def test_development_keeps_its_audit_key_in_the_instance_folder(tmp_path: Path) -> None:
    first = Config.from_env({"KOMMA_INSTANCE_PATH": str(tmp_path)})
    again = Config.from_env({"KOMMA_INSTANCE_PATH": str(tmp_path)})
    assert len(first.audit_key) >= 32
    assert first.audit_key == again.audit_key == (tmp_path / "audit_key").read_text().encode()
    assert first.audit_anchor_dir == tmp_path / "anchors"
