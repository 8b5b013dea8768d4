"""Changes of notification addresses (core.addresses) in the audit chain: who, whose, what; never the address."""

from __future__ import annotations

from sqlalchemy.orm import Session

from clearing.audit import service as audit
from core import addresses


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
