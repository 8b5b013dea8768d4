"""Municipalities: creating a tenant with its first office key (epoch 1) and the offline recovery key."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

import crypto
from core import key_binding
from core.models import Municipality, OfficeKeyEpoch, OfficeKeyGrant

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
OFFICE_KEY_PURPOSE = "office-key"


class TenancyError(ValueError):
    """A municipality cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class NewMunicipality:
    municipality: Municipality
    recovery_key: str  # shown once, never stored


def format_recovery_key(private_key: bytes) -> str:
    text = base64.b32encode(private_key).decode().rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_recovery_key(text: str) -> bytes:
    cleaned = re.sub(r"[\s-]", "", text).upper()
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except ValueError:
        raise TenancyError("recovery key is not valid") from None
    if len(key) != 32:
        raise TenancyError("recovery key is not valid")
    return key


def office_key_record_id(municipality_id: str, holder: str, epoch: int = 1) -> str:
    """What a grant is bound to; epoch 1 keeps the form it had before key epochs (migration 0013)."""
    return f"{municipality_id}/{holder}" if epoch == 1 else f"{municipality_id}/{holder}/{epoch}"


def create_municipality(session: Session, slug: str, name: str, *, office_name: str = "") -> NewMunicipality:
    """A new tenant with a fresh office key pair, sealed to a recovery key printed once."""
    slug = slug.strip().lower()
    name = name.strip()
    if not SLUG_RE.match(slug):
        raise TenancyError("slug: 2-63 lower-case letters, digits or hyphens")
    if not name or len(name) > 200:
        raise TenancyError("name: 1-200 characters")
    if session.scalar(select(Municipality.id).where(Municipality.slug == slug)):
        raise TenancyError(f"a municipality with slug {slug!r} exists")
    office = crypto.generate_keypair()
    recovery = crypto.generate_keypair()
    municipality = Municipality(
        slug=slug,
        name=name,
        office_name=office_name,
        office_public_key=office.public,
        recovery_public_key=recovery.public,
    )
    session.add(municipality)
    session.flush()
    key_binding.bind_office_key(session, municipality)
    key_binding.bind_recovery_key(session, municipality)
    session.add(OfficeKeyEpoch(municipality_id=municipality.id, epoch=1, public_key=office.public))
    grant = OfficeKeyGrant(
        municipality_id=municipality.id,
        holder="recovery",
        epoch=1,
        sealed_private_key=crypto.seal(
            recovery.public,
            office.private,
            purpose=OFFICE_KEY_PURPOSE,
            record_id=office_key_record_id(municipality.id, "recovery"),
        ),
    )
    session.add(grant)
    session.flush()
    return NewMunicipality(municipality, format_recovery_key(recovery.private))


def municipality_by_slug(session: Session, slug: str) -> Municipality | None:
    return session.scalar(select(Municipality).where(Municipality.slug == slug))
