"""Staff accounts: password (Argon2id), TOTP, a key pair under the password, login throttling."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

import crypto
from core import throttle
from core.config import Config
from core.db import new_id, utcnow
from core.models import Account

ROLES = ("officer", "coordinator", "network_operator", "partner")
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,119}$")
MIN_PASSWORD_LENGTH = 12
# Failed logins before the growing delay starts, and its ceiling.
FREE_ATTEMPTS = 3
MAX_DELAY = timedelta(minutes=15)
ACCOUNT_KEY_PURPOSE = "account-key"


class AccountError(ValueError):
    """An account cannot be created or changed as asked; the message says why."""


class LoginRefused(Exception):
    """Wrong login, password or code; one error for all, so nothing is learnt from it."""


class LoginDelayed(Exception):
    """Too many failures: the account waits until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__("login delayed")
        self.until = until


@dataclass(frozen=True)
class NewAccount:
    account: Account
    password: str
    totp_secret: str


def _totp_key(config: Config) -> bytes:
    return crypto.derive_subkey(config.secret_key.encode(), "totp-secrets")


def totp_secret(config: Config, account: Account) -> str:
    return crypto.box_decrypt(_totp_key(config), account.totp_ciphertext, purpose="totp", record_id=account.id).decode()


def totp_uri(config: Config, account: Account) -> str:
    return pyotp.TOTP(totp_secret(config, account)).provisioning_uri(
        name=account.login, issuer_name="Komm.A Meldestelle"
    )


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1000:
        raise AccountError("password: at most 1000 characters")


def create_account(
    session: Session,
    config: Config,
    *,
    login: str,
    role: str,
    municipality_id: str | None,
    display_name: str = "",
    password: str | None = None,
    email: str = "",
    totp_confirmed: bool = False,
    partner_id: str | None = None,
) -> NewAccount:
    """A new account with its key pair under the password; the password is generated if not given."""
    login = login.strip().lower()
    if role not in ROLES:
        raise AccountError(f"role: one of {', '.join(ROLES)}")
    if not LOGIN_RE.match(login):
        raise AccountError("login: 3-120 lower-case letters, digits or . _ @ -")
    if (role == "network_operator") != (municipality_id is None):
        raise AccountError("municipality: required for officers and coordinators, none for the network operator")
    if (role == "partner") != (partner_id is not None):
        raise AccountError("partner: required for partner users, none for others")
    if session.scalar(select(Account.id).where(Account.login == login)):
        raise AccountError(f"an account with login {login!r} exists")
    password = password or secrets.token_urlsafe(15)
    check_password_strength(password)
    keys = crypto.generate_keypair()
    account_id = new_id()
    secret = pyotp.random_base32()
    account = Account(
        id=account_id,
        municipality_id=municipality_id,
        role=role,
        partner_id=partner_id,
        login=login,
        display_name=display_name.strip() or login,
        email=email,
        password_hash=crypto.hash_password(password, params=config.argon2),
        public_key=keys.public,
        wrapped_private_key=crypto.wrap_private_key(
            keys.private, password, params=config.argon2, purpose=ACCOUNT_KEY_PURPOSE
        ),
        totp_ciphertext=crypto.box_encrypt(_totp_key(config), secret.encode(), purpose="totp", record_id=account_id),
        totp_confirmed=totp_confirmed,
    )
    session.add(account)
    session.flush()
    return NewAccount(account, password, secret)


_DUMMY_HASH: dict[str, str] = {}


def _dummy_verify(config: Config, password: str) -> None:
    # An unknown login costs the same Argon2 work as a known one.
    key = repr(config.argon2)
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = crypto.hash_password(secrets.token_urlsafe(16), params=config.argon2)
    crypto.verify_password(_DUMMY_HASH[key], password)


def check_password(session: Session, config: Config, login: str, password: str) -> tuple[Account, bytes]:
    """The account and its unwrapped private key, or LoginRefused / LoginDelayed."""
    account = session.scalar(select(Account).where(Account.login == login.strip().lower()))
    now = utcnow()
    if account is None or not account.active:
        _dummy_verify(config, password)
        _unknown_login_failure(session, config, login, now)
        raise LoginRefused
    if account.locked_until and account.locked_until > now:
        _dummy_verify(config, password)  # a locked account answers as slowly as any other
        raise LoginDelayed(account.locked_until)
    if not crypto.verify_password(account.password_hash, password):
        record_failure(account)
        raise LoginRefused
    private_key = crypto.unwrap_private_key(account.wrapped_private_key, password, purpose=ACCOUNT_KEY_PURPOSE)
    _rewrap_if_outdated(config, account, password, private_key)
    return account, private_key


def _rewrap_if_outdated(config: Config, account: Account, password: str, private_key: bytes) -> None:
    """Hash and key made with older Argon2 parameters are renewed with the password at hand."""
    if crypto.password_hash_needs_update(account.password_hash, config.argon2):
        account.password_hash = crypto.hash_password(password, params=config.argon2)
    if crypto.wrapped_key_needs_update(account.wrapped_private_key, config.argon2):
        account.wrapped_private_key = crypto.wrap_private_key(
            private_key, password, params=config.argon2, purpose=ACCOUNT_KEY_PURPOSE
        )


def _unknown_login_failure(session: Session, config: Config, login: str, now: datetime) -> None:
    """Unknown logins get the same growing delay as real ones, so the delay reveals no account."""
    key = (
        "login:" + hmac.new(config.secret_key.encode(), login.strip().lower().encode(), hashlib.sha256).hexdigest()[:40]
    )
    failures = throttle.used(session, key, timedelta(hours=1))
    if failures >= FREE_ATTEMPTS:
        delay = timedelta(seconds=2 ** (failures - FREE_ATTEMPTS + 1))
        throttle.spend(session, key, timedelta(hours=1), 1_000_000)
        raise LoginDelayed(now + min(delay, MAX_DELAY))
    throttle.spend(session, key, timedelta(hours=1), 1_000_000)


def record_failure(account: Account) -> None:
    account.failed_logins += 1
    if account.failed_logins >= FREE_ATTEMPTS:
        delay = timedelta(seconds=2 ** (account.failed_logins - FREE_ATTEMPTS + 1))
        account.locked_until = utcnow() + min(delay, MAX_DELAY)


def check_totp(config: Config, account: Account, code: str) -> None:
    """Accept a code of the current step (or one step either side), never one used before."""
    code = re.sub(r"\s", "", code or "")
    if account.locked_until and account.locked_until > utcnow():
        raise LoginDelayed(account.locked_until)
    totp = pyotp.TOTP(totp_secret(config, account))
    now = utcnow()
    current = int(now.timestamp()) // totp.interval
    for step in (current, current - 1, current + 1):
        if step > account.last_totp_step and crypto.constant_time_equal(
            totp.generate_otp(step).encode(), code.encode()
        ):
            account.last_totp_step = step
            account.failed_logins = 0
            account.locked_until = None
            return
    record_failure(account)
    raise LoginRefused


def change_password(session: Session, config: Config, account: Account, old: str, new: str) -> bytes:
    """Re-wrap the account key under the new password; returns the private key."""
    if not crypto.verify_password(account.password_hash, old):
        raise LoginRefused
    check_password_strength(new)
    private_key = crypto.unwrap_private_key(account.wrapped_private_key, old, purpose=ACCOUNT_KEY_PURPOSE)
    account.password_hash = crypto.hash_password(new, params=config.argon2)
    account.wrapped_private_key = crypto.wrap_private_key(
        private_key, new, params=config.argon2, purpose=ACCOUNT_KEY_PURPOSE
    )
    session.flush()
    return private_key


def account_by_login(session: Session, login: str) -> Account | None:
    return session.scalar(select(Account).where(Account.login == login.strip().lower()))
