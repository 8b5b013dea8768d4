"""The network operator's work: new municipalities, recorded in the network's audit chain."""

from __future__ import annotations

from sqlalchemy.orm import Session

from clearing.audit import service as audit
from core.staff import Staff
from core.tenancy import NewMunicipality, create_municipality


def add_municipality(session: Session, actor: Staff, slug: str, name: str) -> NewMunicipality:
    """A municipality with its office key; the recovery key is in the result, shown once. Audited.

    Raises core.tenancy.TenancyError for a slug that is taken or not allowed.
    """
    created = create_municipality(session, slug, name)
    audit.record_by(
        session, actor, chain=audit.NETWORK_CHAIN, action="municipality.created", target_id=created.municipality.id
    )
    return created
