"""The logged-in staff member: a server-side session that holds the unwrapped office keys.

The office key is kept only inside a secret session (core.secret_sessions): encrypted under a
token that lives in the session cookie alone. Logout, expiry and "log out everywhere" delete the
server half, after which the cookie opens nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, abort, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from core import secret_sessions
from core.app import current_state
from core.custody import CustodyError, OfficeKeyring
from core.models import Account
from core.web_session import db_session

STAFF_IDLE = timedelta(minutes=30)
LOGIN_STEP_IDLE = timedelta(minutes=5)
STAFF_KEY = "staff"
PENDING_KEY = "login_pending"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Staff:
    account: Account
    # An officer's current office key; for partner users their organisation's key (partner_key).
    office_key: bytes | None
    # Every office key the officer reaches, by epoch (core.custody.OfficeKeyring); empty where a
    # script or test holds just one key.
    office_keys: Mapping[int, bytes] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return self.account.role

    def office_key_of(self, epoch: int) -> bytes | None:
        """The office key a case of this epoch is sealed to, if the officer holds it."""
        if self.office_keys:
            return self.office_keys.get(epoch)
        return self.office_key

    @property
    def keyring(self) -> OfficeKeyring | None:
        if self.office_keys:
            return OfficeKeyring(self.office_keys)
        return None

    @property
    def partner_key(self) -> bytes | None:
        """For partner users the session holds their organisation's key (in the same slot)."""
        return self.office_key if self.role == "partner" else None


def begin_second_step(account: Account, account_private_key: bytes) -> None:
    """After the password: remember the unwrapped account key until the TOTP code is given."""
    secret_sessions.end(db_session(), session.get(PENDING_KEY))
    session[PENDING_KEY] = secret_sessions.create(
        db_session(), purpose="login", subject_id=account.id, secret=account_private_key, idle=LOGIN_STEP_IDLE
    )


def pending_login() -> tuple[Account, bytes] | None:
    opened = secret_sessions.open_session(db_session(), session.get(PENDING_KEY), purpose="login", touch=False)
    if opened is None:
        return None
    account = db_session().get(Account, opened.subject_id)
    if account is None or not account.active:
        return None
    return account, opened.secret


def replace_office_keys(account: Account, keyring: OfficeKeyring) -> None:
    """After a rotation: the officer's session holds the new keyring (and keeps its cookie)."""
    secret_sessions.end(db_session(), session.get(STAFF_KEY))
    session[STAFF_KEY] = secret_sessions.create(
        db_session(), purpose="staff", subject_id=account.id, secret=keyring.encode(), idle=STAFF_IDLE
    )
    g.staff = _staff(account, keyring.encode())


def start(account: Account, office_key: bytes | None) -> None:
    """Log in: a fresh cookie (the session id is renewed) and a fresh server half."""
    secret_sessions.end(db_session(), session.get(PENDING_KEY))
    secret_sessions.end(db_session(), session.get(STAFF_KEY))
    session.clear()
    session[STAFF_KEY] = secret_sessions.create(
        db_session(), purpose="staff", subject_id=account.id, secret=office_key or b"", idle=STAFF_IDLE
    )


def current() -> Staff | None:
    if "staff" not in g:
        g.staff = _load()
    staff: Staff | None = g.staff
    return staff


def actor() -> Staff:
    """The logged-in staff member, in a view behind require()."""
    staff = current()
    if staff is None:
        raise RuntimeError("actor() outside a view protected by require()")
    return staff


def _load() -> Staff | None:
    opened = secret_sessions.open_session(db_session(), session.get(STAFF_KEY), purpose="staff")
    if opened is None:
        return None
    account = db_session().get(Account, opened.subject_id)
    if account is None or not account.active:
        return None
    return _staff(account, opened.secret)


def _staff(account: Account, secret: bytes) -> Staff:
    """The session secret is an officer's office keyring, a partner user's organisation key, or empty."""
    if account.role == "officer" and secret:
        try:
            ring = OfficeKeyring.decode(secret)
        except CustodyError:
            return Staff(account, secret)  # one key from a session of before key epochs
        return Staff(account, ring.current, ring.keys)
    return Staff(account, secret or None)


def end() -> None:
    secret_sessions.end(db_session(), session.get(STAFF_KEY))
    secret_sessions.end(db_session(), session.get(PENDING_KEY))
    session.clear()
    g.pop("staff", None)


def end_everywhere(account: Account) -> None:
    secret_sessions.end_all_for(db_session(), account.id)
    session.clear()
    g.pop("staff", None)


def require(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Only logged-in staff with one of `roles`; others learn nothing (login page or 404)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            staff = current()
            if staff is None:
                # Back to the page after the login; a form's POST-only action is no page to return to.
                return redirect(url_for("auth.login", next=request.path if request.method == "GET" else None))
            if roles and staff.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def home_endpoint(role: str) -> str:
    """Where a role lands after logging in; core/app.py names the pages ("" for everyone else)."""
    homes = current_state().home_endpoints
    return homes.get(role) or homes[""]


def init_app(app: Flask) -> None:
    app.jinja_env.globals["current_staff"] = current
