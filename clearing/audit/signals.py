"""What core announces, in the audit chain: changes of notification addresses (core.addresses) and
account access events (core.account_events). Who, whose, what; never an address, IP or browser."""

from __future__ import annotations

from sqlalchemy.orm import Session

from clearing.audit import service as audit
from core import account_events, addresses


def record_address_change(session: Session, change: addresses.AddressChange) -> None:
    """Append the change to its municipality's chain (the network's for the network operator)."""
    audit.record(
        session,
        chain=change.chain or audit.NETWORK_CHAIN,
        action=change.action,
        actor_id=change.actor_id,
        actor_role=change.actor_role,
        target_id=change.target_id,
        detail=change.target_kind,
    )


def _on_change(session: Session, change: addresses.AddressChange) -> None:
    record_address_change(session, change)


# Connected once, when clearing is loaded (core/app.py imports this module when it wires the features).
addresses.address_changed.connect(_on_change, weak=False)


def record_account_event(session: Session, event: account_events.AccountEvent) -> None:
    """Append a login, logout, password change or TOTP enrolment to the account's municipality's chain."""
    audit.record(
        session,
        chain=event.municipality_id or audit.NETWORK_CHAIN,
        action=event.action,
        actor_id=event.account_id,
        actor_role=event.role,
        target_id=event.account_id,
    )


def _on_account_event(session: Session, event: account_events.AccountEvent) -> None:
    record_account_event(session, event)


account_events.account_event.connect(_on_account_event, weak=False)
