"""What happens to an account's access (login, logout, password, TOTP), announced for the audit trail.

core cannot import clearing: login and the account page send `account_event`, and clearing.audit
(connected when core/app.py wires the features) appends each to the audit chain. Only who and
what: never the client's address, its browser, a password or a code.
"""

from __future__ import annotations

from dataclasses import dataclass

from blinker import Namespace
from sqlalchemy.orm import Session

from core.models import Account

signals = Namespace()
account_event = signals.signal("komma.account-event")

# The actions sent; the audit trail records them under these names.
LOGIN = "login"
LOGOUT = "logout"
LOGOUT_EVERYWHERE = "logout.everywhere"
PASSWORD_CHANGED = "password.changed"  # noqa: S105 (an action's name, not a password)
TOTP_ENROLLED = "totp.enrolled"


@dataclass(frozen=True)
class AccountEvent:
    """One access event of an account, done by the account holder."""

    action: str
    account_id: str
    role: str
    municipality_id: str | None  # the chain: the municipality's, or the network's when None


def emit(session: Session, account: Account, action: str) -> None:
    """Announce `action` by `account` in the caller's transaction."""
    account_event.send(
        session,
        event=AccountEvent(
            action=action, account_id=account.id, role=account.role, municipality_id=account.municipality_id
        ),
    )
