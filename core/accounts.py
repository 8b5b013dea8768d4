"""Staff accounts: password (Argon2id), TOTP, a key pair under the password, login throttling."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import crypto
from core import key_binding
from core.config import Config
from core.db import new_id, utcnow
from core.models import Account, LoginFailure

ROLES = ("officer", "coordinator", "network_operator", "partner")
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,119}$")
MIN_PASSWORD_LENGTH = 12
# Failed logins before the growing delay starts, and its ceiling.
FREE_ATTEMPTS = 3
MAX_DELAY = timedelta(minutes=15)
# Failures after which nothing was tried for this long are forgotten (housekeeping).
FORGET_FAILURES = timedelta(days=30)
ACCOUNT_KEY_PURPOSE = "account-key"
TOTP_PURPOSE = "totp"


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


def seal_totp_secret(account_id: str, public_key: bytes, secret: str) -> bytes:
    """The TOTP secret sealed to the account's own key: only its password opens it again."""
    return crypto.seal(public_key, secret.encode(), purpose=TOTP_PURPOSE, record_id=account_id)


def totp_secret(account: Account, private_key: bytes) -> str:
    """The TOTP secret, opened with the account key that the password step unwrapped."""
    return crypto.open_sealed(private_key, account.totp_ciphertext, purpose=TOTP_PURPOSE, record_id=account.id).decode()


def totp_secret_with_password(config: Config, account: Account, password: str) -> str | None:
    """The TOTP secret for one who knows the password (the demo's fixed ones); None if it is not that."""
    try:
        private_key = crypto.unwrap_private_key(account.wrapped_private_key, password, purpose=ACCOUNT_KEY_PURPOSE)
    except crypto.CryptoError:
        return None
    _reseal_legacy_totp(config, account, private_key)
    return totp_secret(account, private_key)


def totp_uri(account: Account, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account.login, issuer_name="Komm.A Meldestelle")


def _legacy_totp_key(config: Config) -> bytes:
    # Before issue 13 the secret sat in a box under a key derived from KOMMA_SECRET_KEY, which the
    # database and the environment together opened. Only _reseal_legacy_totp still reads it.
    return crypto.derive_subkey(config.secret_key.encode(), "totp-secrets")


def _reseal_legacy_totp(config: Config, account: Account, private_key: bytes) -> None:
    """A secret still in the old box is sealed to the account key at its next password step.

    The public key comes from the private key the password just opened, never from the database
    column, so a planted public key cannot receive the secret."""
    try:
        legacy = crypto.box_decrypt(
            _legacy_totp_key(config), account.totp_ciphertext, purpose=TOTP_PURPOSE, record_id=account.id
        )
    except crypto.FormatError:
        return  # already sealed to the account key
    account.totp_ciphertext = seal_totp_secret(account.id, crypto.public_key_of(private_key), legacy.decode())


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1000:
        raise AccountError("password: at most 1000 characters")


def _checked_login(session: Session, login: str, role: str, municipality_id: str | None, partner_id: str | None) -> str:
    """The login as stored, or AccountError for a role, municipality or partner that do not fit, or a taken login."""
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
    return login


def set_credentials(config: Config, account: Account, password: str) -> tuple[bytes, str]:
    """A fresh key pair under the password and a fresh TOTP secret sealed to it; (private key, TOTP secret).

    The one place where an account gets its credentials: create_account (demo, tests) and the
    holder's acceptance of an invitation (core.invitations).
    """
    check_password_strength(password)
    keys = crypto.generate_keypair()
    secret = pyotp.random_base32()
    account.password_hash = crypto.hash_password(password, params=config.argon2)
    account.public_key = keys.public
    key_binding.bind_account_key(config, account)
    account.wrapped_private_key = crypto.wrap_private_key(
        keys.private, password, params=config.argon2, purpose=ACCOUNT_KEY_PURPOSE
    )
    account.totp_ciphertext = seal_totp_secret(account.id, keys.public, secret)
    return keys.private, secret


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
    """A new account with its key pair under the password; the password is generated if not given.

    For the demo, the tests and benchmarks, whose passwords are known anyway. People get an
    invitation instead (core.invitations), so that nobody but the holder ever sees a credential.
    """
    login = _checked_login(session, login, role, municipality_id, partner_id)
    password = password or secrets.token_urlsafe(15)
    check_password_strength(password)
    account = Account(
        id=new_id(),
        municipality_id=municipality_id,
        role=role,
        partner_id=partner_id,
        login=login,
        display_name=display_name.strip() or login,
        email=email,
        totp_confirmed=totp_confirmed,
    )
    _private_key, secret = set_credentials(config, account, password)
    session.add(account)
    session.flush()
    return NewAccount(account, password, secret)


def create_invited_account(
    session: Session,
    *,
    login: str,
    role: str,
    municipality_id: str | None,
    display_name: str = "",
    partner_id: str | None = None,
) -> Account:
    """A new account without any credential: no password opens it and it has no key pair yet.

    Its holder sets the password (and so creates the key pair and TOTP secret) through the
    invitation link (core.invitations). Raises AccountError like create_account.
    """
    login = _checked_login(session, login, role, municipality_id, partner_id)
    account = Account(
        id=new_id(),
        municipality_id=municipality_id,
        role=role,
        partner_id=partner_id,
        login=login,
        display_name=display_name.strip() or login,
        invited=True,
        password_hash="",
        public_key=b"",
        wrapped_private_key=b"",
        totp_ciphertext=b"",
    )
    session.add(account)
    session.flush()
    return account


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
    if account is None or not account.active or account.invited:
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
    _reseal_legacy_totp(config, account, private_key)
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
    """A name that opens no account counts its failures and waits exactly like an account.

    Same count, same delays, same "locked until" as record_failure and check_password's lock, so
    neither the wording nor the timing of the answers tells whether the name exists. Raises
    LoginDelayed while the name waits; otherwise counts one failure.
    """
    digest = hmac.new(config.secret_key.encode(), login.strip().lower().encode(), hashlib.sha256).hexdigest()
    row = session.get(LoginFailure, digest)
    if row is None:
        try:
            with session.begin_nested():
                row = LoginFailure(key=digest, failed_logins=0, last_failure_at=now)
                session.add(row)
        except IntegrityError:  # the same name at the same moment: count on the row that won
            row = session.scalars(
                select(LoginFailure).where(LoginFailure.key == digest).execution_options(populate_existing=True)
            ).one()
    if row.locked_until and row.locked_until > now:
        raise LoginDelayed(row.locked_until)
    row.failed_logins += 1
    row.last_failure_at = now
    row.locked_until = _locked_until(row.failed_logins, now) or row.locked_until


def _locked_until(failures: int, now: datetime) -> datetime | None:
    """After the free attempts, each failure makes the next attempt wait twice as long (up to MAX_DELAY)."""
    if failures < FREE_ATTEMPTS:
        return None
    return now + min(timedelta(seconds=2 ** (failures - FREE_ATTEMPTS + 1)), MAX_DELAY)


def record_failure(account: Account) -> None:
    account.failed_logins += 1
    account.locked_until = _locked_until(account.failed_logins, utcnow()) or account.locked_until


def forget_old_failures(session: Session, now: datetime) -> int:
    """Failures quiet for FORGET_FAILURES are forgotten, for names without an account and accounts alike."""
    cutoff = now - FORGET_FAILURES
    removed = session.execute(delete(LoginFailure).where(LoginFailure.last_failure_at < cutoff))
    session.execute(update(Account).where(Account.locked_until < cutoff).values(failed_logins=0, locked_until=None))
    return int(getattr(removed, "rowcount", 0) or 0)


def check_totp(account: Account, private_key: bytes, code: str) -> None:
    """Accept a code of the current step (or one step either side), never one used before.

    The secret is opened with the account key of this login attempt (held since the password step).
    """
    code = re.sub(r"\s", "", code or "")
    if account.locked_until and account.locked_until > utcnow():
        raise LoginDelayed(account.locked_until)
    totp = pyotp.TOTP(totp_secret(account, private_key))
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
