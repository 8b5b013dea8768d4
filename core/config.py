"""Configuration: one frozen dataclass read from KOMMA_* environment variables."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crypto import PRODUCTION_ARGON2, TEST_ARGON2, Argon2Params

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to set."""


@dataclass(frozen=True)
class Config:
    """Everything the app reads from its environment, checked once at start."""

    env: str = "development"
    instance_path: Path = DEFAULT_INSTANCE_PATH
    secret_key: str = ""
    receipt_pepper: bytes = b""
    # Vouches for every stored public key (core.key_binding); never in the database.
    key_binding_key: bytes = field(default=b"", repr=False)
    # Keys the audit chains (HMAC-SHA256, clearing.audit); never in the database.
    audit_key: bytes = field(default=b"", repr=False)
    # Where the daily audit anchor is written; the operator ships the files elsewhere.
    audit_anchor_dir: Path | None = None
    # Seals the reporters' notification addresses (reporting.case_crypto); the first opens and
    # seals, the previous ones only open until `komma keys rotate-notify` has re-sealed everything.
    notify_key: bytes = field(default=b"", repr=False)
    notify_keys_previous: tuple[bytes, ...] = field(default=(), repr=False)
    database_url: str = ""
    redis_url: str | None = None
    smtp_url: str | None = None
    mail_sender: str = "meldestelle@localhost"
    base_url: str = "http://127.0.0.1:5000"
    # Where the accessibility statement sends feedback on barriers; empty: the mail sender.
    accessibility_contact: str = ""
    # Uploads: the intake issue's limits, configurable per installation.
    max_files: int = 5
    max_file_bytes: int = 10 * 1024 * 1024
    # The whole request: files plus form text plus multipart overhead.
    max_request_bytes: int = 5 * 10 * 1024 * 1024 + 2 * 1024 * 1024
    # How long the operator keeps database backups (README "Backups"): shown, not enforced here; a
    # destroyed office key is out of every backup this many days after its destruction.
    backup_retention_days: int = 30
    # Argon2id cost for receipt codes and account passwords; tests use the minimum.
    argon2: Argon2Params = PRODUCTION_ARGON2
    # Proof of work in the form and the mailbox login (reporting.challenge): zero bits a solution's
    # SHA-256 starts with, about 2**bits hashes to find. 15 takes a phone's browser about a second.
    challenge_bits: int = 15
    testing: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def notify_keys(self) -> tuple[bytes, ...]:
        """The notification key that seals, then those that still open what they sealed."""
        return (self.notify_key, *self.notify_keys_previous)

    @property
    def feedback_address(self) -> str:
        """The address the accessibility statement names for feedback."""
        return self.accessibility_contact or self.mail_sender

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Build the configuration from KOMMA_* variables, then apply explicit overrides."""
        env = os.environ if environ is None else environ
        instance_path = Path(
            overrides.pop("instance_path", None) or env.get("KOMMA_INSTANCE_PATH") or DEFAULT_INSTANCE_PATH
        )
        values: dict[str, Any] = {
            "env": env.get("KOMMA_ENV", "development"),
            "instance_path": instance_path,
            "secret_key": env.get("KOMMA_SECRET_KEY", ""),
            "receipt_pepper": env.get("KOMMA_RECEIPT_PEPPER", "").encode(),
            "key_binding_key": env.get("KOMMA_KEY_BINDING_KEY", "").encode(),
            "audit_key": _secret_from_env(env, "KOMMA_AUDIT_KEY"),
            "audit_anchor_dir": Path(env["KOMMA_AUDIT_ANCHOR_DIR"]) if env.get("KOMMA_AUDIT_ANCHOR_DIR") else None,
            "notify_key": _secret_from_env(env, "KOMMA_NOTIFY_KEY"),
            "notify_keys_previous": tuple(
                key.strip().encode()
                for key in _secret_from_env(env, "KOMMA_NOTIFY_KEY_PREVIOUS").replace("\n", ",").split(",")
                if key.strip()
            ),
            "database_url": env.get("KOMMA_DATABASE_URL", ""),
            "redis_url": env.get("KOMMA_REDIS_URL") or None,
            "smtp_url": env.get("KOMMA_SMTP_URL") or None,
            "mail_sender": env.get("KOMMA_MAIL_SENDER", cls.mail_sender),
            "base_url": env.get("KOMMA_BASE_URL", cls.base_url),
            "accessibility_contact": env.get("KOMMA_ACCESSIBILITY_CONTACT", ""),
        }
        for name, var in (
            ("max_files", "KOMMA_MAX_FILES"),
            ("max_file_bytes", "KOMMA_MAX_FILE_BYTES"),
            ("backup_retention_days", "KOMMA_BACKUP_RETENTION_DAYS"),
        ):
            if env.get(var):
                values[name] = _positive_int(var, env[var])
        if env.get("KOMMA_CHALLENGE_BITS"):
            values["challenge_bits"] = _positive_int("KOMMA_CHALLENGE_BITS", env["KOMMA_CHALLENGE_BITS"])
        if env.get("KOMMA_ARGON2") == "test":
            values["argon2"] = TEST_ARGON2
        values.update(overrides)
        for secret in ("receipt_pepper", "key_binding_key", "audit_key", "notify_key"):
            if isinstance(values[secret], str):
                values[secret] = values[secret].encode()
        if "max_request_bytes" not in overrides:
            files = values.get("max_files", cls.max_files) * values.get("max_file_bytes", cls.max_file_bytes)
            values["max_request_bytes"] = files + 2 * 1024 * 1024
        config = cls(**values)
        return config._with_defaults()

    def _with_defaults(self) -> Config:
        """Refuse an unsafe production setup; fill development secrets from the instance folder."""
        if self.env not in ("development", "production"):
            raise ConfigError(f"KOMMA_ENV must be 'development' or 'production', not {self.env!r}")
        changes: dict[str, Any] = {}
        if not 1 <= self.challenge_bits <= 24:
            raise ConfigError("KOMMA_CHALLENGE_BITS must be between 1 and 24 (15: about a second on a phone)")
        if self.production:
            if len(self.secret_key) < 32:
                raise ConfigError("KOMMA_SECRET_KEY must be set to at least 32 random characters in production")
            if len(self.receipt_pepper) < 32:
                raise ConfigError("KOMMA_RECEIPT_PEPPER must be set to at least 32 random characters in production")
            if self.secret_key.encode() == self.receipt_pepper:
                raise ConfigError("KOMMA_SECRET_KEY and KOMMA_RECEIPT_PEPPER must differ")
            if len(self.key_binding_key) < 32:
                raise ConfigError("KOMMA_KEY_BINDING_KEY must be set to at least 32 random characters in production")
            if self.key_binding_key in (self.secret_key.encode(), self.receipt_pepper):
                raise ConfigError("KOMMA_KEY_BINDING_KEY must differ from KOMMA_SECRET_KEY and KOMMA_RECEIPT_PEPPER")
            if len(self.audit_key) < 32:
                raise ConfigError(
                    "KOMMA_AUDIT_KEY (or KOMMA_AUDIT_KEY_FILE) must hold at least 32 random characters in production"
                )
            if self.audit_key in (self.secret_key.encode(), self.receipt_pepper, self.key_binding_key):
                raise ConfigError("KOMMA_AUDIT_KEY must differ from the other secrets")
            if len(self.notify_key) < 32:
                raise ConfigError(
                    "KOMMA_NOTIFY_KEY (or KOMMA_NOTIFY_KEY_FILE) must hold at least 32 random characters in production"
                )
            if self.notify_key in (self.secret_key.encode(), self.receipt_pepper):
                raise ConfigError("KOMMA_NOTIFY_KEY must differ from KOMMA_SECRET_KEY and KOMMA_RECEIPT_PEPPER")
            if not self.testing and _weaker_than_production(self.argon2):
                raise ConfigError("KOMMA_ARGON2=test is for development and tests only; remove it in production")
            if not self.database_url:
                raise ConfigError("KOMMA_DATABASE_URL must be set in production")
        else:
            if not self.secret_key:
                changes["secret_key"] = _instance_secret(self.instance_path, "secret_key")
            if not self.receipt_pepper:
                changes["receipt_pepper"] = _instance_secret(self.instance_path, "receipt_pepper").encode()
            if not self.key_binding_key:
                changes["key_binding_key"] = _instance_secret(self.instance_path, "key_binding_key").encode()
            if not self.audit_key:
                changes["audit_key"] = _instance_secret(self.instance_path, "audit_key").encode()
            if not self.notify_key:
                changes["notify_key"] = _instance_secret(self.instance_path, "notify_key").encode()
        if self.audit_anchor_dir is None:
            changes["audit_anchor_dir"] = self.instance_path / "anchors"
        if not self.database_url:
            changes["database_url"] = f"sqlite:///{self.instance_path / 'komma.sqlite3'}"
        return dataclasses.replace(self, **changes) if changes else self


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive")
    return value


def _weaker_than_production(params: Argon2Params) -> bool:
    # Cheaper Argon2 makes every receipt code and password guessable offline: tests only.
    return params.memory_kib < PRODUCTION_ARGON2.memory_kib or params.iterations < PRODUCTION_ARGON2.iterations


def _secret_from_env(env: Mapping[str, str], name: str) -> str:
    """A secret from `name`, or from the file `name`_FILE names (a container secret), stripped."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if not path:
        return ""
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise ConfigError(f"{name}_FILE names a file that cannot be read: {path}") from error


def _instance_secret(instance_path: Path, name: str) -> str:
    """A development secret kept in the instance folder so restarts keep sessions and receipts."""
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
