"""The partner portal's logic: read the packet, acknowledge, update the state, send feedback."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

import crypto
from clearing.audit import service as audit
from clearing.partners.models import PartnerOrganisation
from clearing.referrals.errors import ReferralRefused
from clearing.referrals.models import Referral, ReferralFile, ReferralUpdate
from clearing.referrals.service import decrypt_update, encrypt_feedback, referral_reference, updates_of
from clearing.referrals.states import OUTCOMES, partner_may_move
from core.db import new_id, utcnow
from core.staff import Staff
from reporting.case_crypto import AttachmentMeta
from reporting.models import Case
from workers import add_job


def referral_key(actor: Staff, referral: Referral, partner: PartnerOrganisation) -> bytes:
    if (
        actor.partner_key is None
        or referral.sealed_key_partner is None
        or referral.key_generation != partner.key_generation
    ):
        raise ReferralRefused(
            _(
                "Diese Weiterleitung kann mit Ihrem Schlüssel nicht geöffnet werden. Die Clearingstelle sendet sie erneut."
            )
        )
    return crypto.open_sealed(
        actor.partner_key, referral.sealed_key_partner, purpose="referral-key", record_id=referral.id
    )


@dataclass(frozen=True)
class PacketView:
    referral: Referral
    packet: dict[str, Any]
    files: list[tuple[str, AttachmentMeta]]
    updates: list[tuple[ReferralUpdate, str]]
    reference: str


def _chain(session: Session, referral: Referral) -> str:
    case = session.get_one(Case, referral.case_id)
    return case.municipality_id


def open_packet(session: Session, actor: Staff, referral: Referral, partner: PartnerOrganisation) -> PacketView:
    """Decrypt the packet for the partner; the first opening counts as "received"."""
    if referral.state == "withdrawn" or referral.packet_ciphertext is None:
        # Shredded: only the clear state history is left (the feedback texts went with the key).
        history = [(u, "") for u in updates_of(session, [referral.id])[referral.id] if u.state]
        return PacketView(referral, {}, [], history, referral_reference(referral.id))
    key = referral_key(actor, referral, partner)
    packet = json.loads(
        crypto.box_decrypt(key, referral.packet_ciphertext, purpose="referral-packet", record_id=referral.id)
    )
    files = [
        (
            f.id,
            AttachmentMeta(
                **json.loads(crypto.box_decrypt(key, f.meta_ciphertext, purpose="referral-file-meta", record_id=f.id))
            ),
        )
        for f in session.query(ReferralFile).filter(ReferralFile.referral_id == referral.id).order_by(ReferralFile.id)
    ]
    if referral.opened_at is None:
        referral.opened_at = utcnow()
    audit.record_by(
        session,
        actor,
        chain=_chain(session, referral),
        action="referral.opened",
        target_id=referral.id,
    )
    updates = [(u, decrypt_update(key, u)) for u in updates_of(session, [referral.id])[referral.id]]
    return PacketView(referral, packet, files, updates, referral_reference(referral.id))


def download_file(
    session: Session, actor: Staff, referral: Referral, partner: PartnerOrganisation, file_id: str
) -> tuple[AttachmentMeta, bytes]:
    record = session.get(ReferralFile, file_id)
    if record is None or record.referral_id != referral.id or referral.state == "withdrawn":
        raise LookupError(file_id)
    key = referral_key(actor, referral, partner)
    meta = AttachmentMeta(
        **json.loads(crypto.box_decrypt(key, record.meta_ciphertext, purpose="referral-file-meta", record_id=record.id))
    )
    content = crypto.decrypt_bytes_stream(key, record.content_ciphertext, purpose="referral-file", record_id=record.id)
    audit.record_by(
        session,
        actor,
        chain=_chain(session, referral),
        action="referral.file_downloaded",
        target_id=record.id,
    )
    return meta, content


def update(
    session: Session,
    actor: Staff,
    referral: Referral,
    partner: PartnerOrganisation,
    *,
    state: str | None,
    outcome: str | None,
    text: str,
) -> None:
    """A state change and/or feedback to the office (text encrypted under the referral key)."""
    if referral.state == "withdrawn":
        raise ReferralRefused(
            _("Die meldende Person hat ihre Einwilligung zurückgezogen. Diese Weiterleitung ist beendet.")
        )
    if state:
        if not partner_may_move(referral.state, state):
            raise ReferralRefused(_("Dieser Schritt ist im aktuellen Stand nicht möglich."))
        if state == "declined" and not text:
            raise ReferralRefused(_("Bitte geben Sie einen Grund für die Ablehnung an."))
        if state == "completed" and outcome not in OUTCOMES:
            raise ReferralRefused(_("Bitte wählen Sie ein Ergebnis."))
    if not state and not text:
        raise ReferralRefused(_("Bitte wählen Sie einen neuen Stand oder schreiben Sie eine Rückmeldung."))
    key = referral_key(actor, referral, partner)
    update_id = new_id()
    session.add(
        ReferralUpdate(
            id=update_id,
            referral_id=referral.id,
            at=utcnow(),
            author_id=actor.account.id,
            state=state,
            outcome=outcome if state == "completed" else None,
            ciphertext=encrypt_feedback(key, update_id, text) if text else None,
        )
    )
    if state:
        referral.state, referral.state_changed_at = state, utcnow()
        if state == "completed":
            referral.outcome = outcome
        if referral.opened_at is None:
            referral.opened_at = utcnow()
    audit.record_by(
        session,
        actor,
        chain=_chain(session, referral),
        action="referral.updated",
        target_id=referral.id,
        detail=state or "feedback",
    )
    session.flush()
    add_job(session, "notify_office_feedback", referral_id=referral.id)
