"""Referrals: recommendations from the agreement, the packet, four eyes, sending, withdrawal, feedback.

The packet holds only the fields the agreement allows for the partner, which the reporter's
consent covers, and the files the officer chose; it is encrypted under a random referral key
sealed to the partner organisation and to the office.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

import crypto
from clearing.audit import service as audit
from clearing.cases import workflow
from clearing.cases.models import Assessment
from clearing.partners.agreements import DEFAULT_RESPONSE_DAYS, parse
from clearing.partners.models import AgreementVersion, PartnerOrganisation
from clearing.partners.service import active_agreement, partner_by_key, verified_partner_key
from clearing.referrals.errors import ReferralRefused
from clearing.referrals.models import Referral, ReferralFile, ReferralUpdate
from clearing.referrals.packet import build_packet
from clearing.referrals.routing import Recommendation, RoutingFacts, recommend
from clearing.referrals.states import (
    REFERRAL_OPEN_STATES,
    after_consent_withdrawn,
    is_overdue,
    is_stale,
    office_may_move,
)
from core import key_binding
from core.db import new_id, utcnow
from core.models import Municipality
from core.staff import Staff
from reporting import case_crypto
from reporting import signals as reporting_signals
from reporting.case_crypto import AttachmentMeta
from reporting.content import CONSENT_NAMES
from reporting.models import Attachment, Case, CaseEvent
from workers import add_job


def referral_reference(referral_id: str) -> str:
    """The short reference office and partner both use for one referral (never the case's reference)."""
    return f"W-{referral_id[:4].upper()}-{referral_id[4:8].upper()}"


def _facts(case: Case, assessment: Assessment) -> RoutingFacts:
    return RoutingFacts(
        urgency=assessment.urgency,
        incident_types=frozenset(assessment.codes_of("incident_type")),
        motives=frozenset(assessment.codes_of("motive")),
        offences=frozenset(assessment.codes_of("offence")),
        perpetrator=case.perpetrator_context,
        employer_duty=assessment.employer_duty,
    )


def consents_of(case: Case) -> dict[str, bool]:
    return {name: case.consent(name) for name in CONSENT_NAMES}


@dataclass(frozen=True)
class Routing:
    version: int | None
    recommendations: list[Recommendation]


def recommendations_for(session: Session, case: Case) -> Routing:
    assessment = session.get(Assessment, case.id)
    agreement = active_agreement(session, case.municipality_id)
    if assessment is None or agreement is None:
        return Routing(agreement.version if agreement else None, [])
    return Routing(agreement.version, recommend(_facts(case, assessment), consents_of(case), parse(agreement.data)))


def _open_case(case: Case) -> None:
    """Closed or withdrawn cases are not referred (reopen first); a withdrawn report never."""
    if case.status not in workflow.OPEN_STATES:
        raise ReferralRefused(_("Dieser Schritt ist im aktuellen Stand nicht möglich."))


def _recommendation(session: Session, case: Case, partner_key: str) -> tuple[Routing, Recommendation]:
    _open_case(case)
    routing = recommendations_for(session, case)
    found = next((r for r in routing.recommendations if r.partner == partner_key), None)
    if found is None or routing.version is None:
        raise ReferralRefused(_("Für diesen Partner gibt es keine Empfehlung nach der geltenden Vereinbarung."))
    if found.blocked:
        raise ReferralRefused(_("Diese Weitergabe ist gesperrt: Es fehlt die Einwilligung der meldenden Person."))
    return routing, found


@dataclass(frozen=True)
class Preview:
    recommendation: Recommendation
    partner: PartnerOrganisation
    packet: dict[str, Any]
    files: list[tuple[str, AttachmentMeta]]
    version: int


def preview(session: Session, actor: Staff, case: Case, partner_key: str) -> Preview:
    routing, rec = _recommendation(session, case, partner_key)
    partner = partner_by_key(session, case.municipality_id, partner_key)
    if partner is None:
        raise ReferralRefused(_("Diese Partnerorganisation gibt es nicht."))
    key = _case_key(actor, case)
    report = case_crypto.decrypt_report(key, case.id, case.report_ciphertext)
    files = []
    if "files" in rec.fields:
        for a in session.scalars(
            select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.created_at)
        ):
            meta = case_crypto.opened_or_none(
                f"attachment {a.id}",
                case_crypto.decrypt_attachment_meta,
                key,
                case_crypto.attachment_place(a),
                a.meta_ciphertext,
            )
            if meta is not None:  # a file that does not open here is not offered for a referral
                files.append((a.id, meta))
    audit.record_by(
        session,
        actor,
        chain=case.municipality_id,
        action="referral.previewed",
        target_id=case.id,
        detail=partner.kind,
    )
    return Preview(
        rec, partner, build_packet(report, session.get(Assessment, case.id), rec.fields), files, routing.version or 0
    )


def _office_key(actor: Staff, case: Case) -> bytes:
    office_key = actor.office_key_of(case.office_key_epoch)
    if office_key is None or actor.role != "officer":
        raise ReferralRefused(_("Sie haben keinen Zugang zu den Fallinhalten."))
    return office_key


def _case_key(actor: Staff, case: Case) -> bytes:
    return case_crypto.open_case_key(_office_key(actor, case), case.sealed_case_key, case.id)


def _packet_box(referral_key: bytes, referral_id: str, packet: dict[str, Any]) -> bytes:
    return crypto.box_encrypt(
        referral_key, json.dumps(packet, ensure_ascii=False).encode(), purpose="referral-packet", record_id=referral_id
    )


def _verified_partner_key(session: Session, partner: PartnerOrganisation) -> bytes:
    """The partner's public key once it verifies (core.key_binding); a refusal changes nothing."""
    try:
        return verified_partner_key(session, partner)
    except key_binding.UnverifiedKey:
        raise ReferralRefused(
            _(
                "Der Schlüssel dieses Partners ließ sich nicht bestätigen. Es wurde nichts weitergeleitet. "
                "Bitte wenden Sie sich an den technischen Betrieb."
            )
        ) from None


def create_referral(session: Session, actor: Staff, case: Case, partner_key: str, file_ids: list[str]) -> Referral:
    """Encrypt the packet for the partner and the office; send now, or wait for a second officer."""
    shown = preview(session, actor, case, partner_key)
    rec, partner = shown.recommendation, shown.partner
    # Checked before anything is added: the view commits after a refusal (its redirect is a success).
    allowed = {file_id for file_id, _meta in shown.files}
    if any(file_id not in allowed for file_id in file_ids):
        raise ReferralRefused(_("Diese Datei darf an diesen Partner nicht weitergegeben werden."))
    existing = session.scalar(
        select(Referral.id).where(
            Referral.case_id == case.id, Referral.partner_id == partner.id, Referral.state.in_(REFERRAL_OPEN_STATES)
        )
    )
    if existing:
        raise ReferralRefused(_("An diesen Partner gibt es bereits eine offene Weiterleitung."))
    municipality = session.get_one(Municipality, case.municipality_id)
    if not municipality.office_public_key:
        raise ValueError("a municipality with cases has an office key")
    partner_public_key = _verified_partner_key(session, partner)
    key = _case_key(actor, case)
    referral_id = new_id()
    referral_key = crypto.random_key()
    referral = Referral(
        id=referral_id,
        case_id=case.id,
        partner_id=partner.id,
        agreement_version=shown.version,
        rule=rec.rule,
        required_consent=rec.required_consent,
        override=rec.override,
        four_eyes=rec.four_eyes,
        state="awaiting_approval",
        created_by=actor.account.id,
        key_generation=partner.key_generation,
        sealed_key_partner=crypto.seal(partner_public_key, referral_key, purpose="referral-key", record_id=referral_id),
        # To the office key the case is sealed to (everything of a case goes with its key epoch), taken
        # from the private key the officer holds rather than from a column anyone with the database can write.
        sealed_key_office=crypto.seal(
            crypto.public_key_of(_office_key(actor, case)),
            referral_key,
            purpose="referral-key",
            record_id=referral_id,
        ),
        packet_ciphertext=_packet_box(referral_key, referral_id, shown.packet),
        due_at=None,
    )
    session.add(referral)
    for file_id in file_ids:
        attachment = session.get_one(Attachment, file_id)
        place = case_crypto.attachment_place(attachment)
        meta = case_crypto.decrypt_attachment_meta(key, place, attachment.meta_ciphertext)
        content = case_crypto.decrypt_attachment(key, place, attachment.content_ciphertext)
        rf_id = new_id()
        session.add(
            ReferralFile(
                id=rf_id,
                referral_id=referral_id,
                meta_ciphertext=crypto.box_encrypt(
                    referral_key, json.dumps(meta.__dict__).encode(), purpose="referral-file-meta", record_id=rf_id
                ),
                content_ciphertext=crypto.encrypt_bytes_stream(
                    referral_key, content, purpose="referral-file", record_id=rf_id
                ),
            )
        )
    audit.record_by(
        session,
        actor,
        chain=case.municipality_id,
        action="referral.created",
        target_id=referral_id,
        detail=f"v{shown.version}:{partner.kind}",
    )
    if rec.override:
        audit.record_by(
            session,
            actor,
            chain=case.municipality_id,
            action="referral.override_requested",
            target_id=referral_id,
            detail=rec.required_consent,
        )
    session.flush()
    if not rec.four_eyes:
        _send(session, actor, case, referral, partner)
    return referral


def approve_referral(session: Session, actor: Staff, case: Case, referral_id: str) -> Referral:
    """The second officer's approval (four eyes; always for an acute-danger override)."""
    referral = session.scalar(select(Referral).where(Referral.id == referral_id, Referral.case_id == case.id))
    if referral is None or not office_may_move(referral.state, "sent"):
        raise ReferralRefused(_("Diese Weiterleitung wartet nicht auf Freigabe."))
    if referral.created_by == actor.account.id:
        raise ReferralRefused(_("Die Freigabe muss eine zweite Fachkraft erteilen (Vier-Augen-Prinzip)."))
    if actor.office_key is None:
        # The second pair of eyes must be able to read the case it releases.
        raise ReferralRefused(_("Sie haben keinen Zugang zu den Fallinhalten."))
    _open_case(case)
    partner = session.get_one(PartnerOrganisation, referral.partner_id)
    referral.approved_by = actor.account.id
    action = "referral.override_approved" if referral.override else "referral.approved"
    audit.record_by(
        session,
        actor,
        chain=case.municipality_id,
        action=action,
        target_id=referral.id,
    )
    _send(session, actor, case, referral, partner)
    return referral


def _send(session: Session, actor: Staff, case: Case, referral: Referral, partner: PartnerOrganisation) -> None:
    now = utcnow()
    rule = parse_rule_days(session, case, partner, referral.agreement_version)
    referral.state, referral.sent_at, referral.state_changed_at = "sent", now, now
    referral.due_at = now + timedelta(days=rule)
    session.add(CaseEvent(case_id=case.id, kind="forwarded", detail=partner.kind))
    audit.record_by(
        session,
        actor,
        chain=case.municipality_id,
        action="referral.sent",
        target_id=referral.id,
        detail=partner.kind,
    )
    # A case under review follows the referral, through "assessed" if it was reopened and referred
    # on its earlier assessment (guards hold: the referral needed that assessment).
    if case.status in ("in_review", "assessed"):
        workflow.advance(
            session,
            case,
            "referred",
            actor_id=actor.account.id,
            actor_role=actor.role,
            guards=workflow.Guards(has_assessment=True),
        )
    session.flush()
    add_job(session, "notify_partner_referral", referral_id=referral.id)


def parse_rule_days(session: Session, case: Case, partner: PartnerOrganisation, version: int) -> int:
    """The response deadline of the agreement version the referral records."""
    agreement = session.scalar(
        select(AgreementVersion).where(
            AgreementVersion.municipality_id == case.municipality_id, AgreementVersion.version == version
        )
    )
    rule = parse(agreement.data).rule_for(partner.key) if agreement else None
    return rule.response_days if rule else DEFAULT_RESPONSE_DAYS


def _shred(session: Session, referral: Referral) -> None:
    """Destroy the referral key's sealed copies and every ciphertext under it: nothing opens again.

    Without the key a copy of the packet from an older dump or backup does not open either. What
    remains is what the agreement leaves the partner: the reference, the dates, and the state
    history with outcome codes. The partner's feedback texts were under the same key (and may
    quote the packet): they go too.
    """
    referral.sealed_key_partner = None
    referral.sealed_key_office = None
    referral.packet_ciphertext = None
    session.query(ReferralFile).filter(ReferralFile.referral_id == referral.id).delete()
    session.query(ReferralUpdate).filter(ReferralUpdate.referral_id == referral.id).update(
        {ReferralUpdate.ciphertext: None}
    )


def consents_changed(session: Session, case: Case, changed: list[str]) -> None:
    """A withdrawn consent cancels unopened referrals that need it and withdraws opened ones; both are shredded."""
    # "no forwarding" is a wish, not a consent: switching it off withdraws nothing.
    withdrawn = {name for name in changed if name != "no_forwarding" and not case.consent(name)}
    if case.consent_no_forwarding and "no_forwarding" in changed:
        withdrawn |= set(CONSENT_NAMES)
    if not withdrawn:
        return
    referrals = session.scalars(
        select(Referral).where(Referral.case_id == case.id, Referral.state.in_(REFERRAL_OPEN_STATES))
    )
    for referral in referrals:
        if referral.override or not (referral.required_consent in withdrawn or "no_forwarding" in withdrawn):
            continue
        now = utcnow()
        referral.state = after_consent_withdrawn(opened=referral.opened_at is not None)
        # Opened or not, the partner keeps no way to read the packet: its key is destroyed.
        _shred(session, referral)
        if referral.state == "cancelled":
            action = "referral.cancelled"
        else:
            action = "referral.withdrawn"
            add_job(session, "notify_partner_withdrawn", referral_id=referral.id)
        referral.state_changed_at = now
        audit.record(
            session,
            chain=case.municipality_id,
            action=action,
            actor_id=None,
            actor_role="reporter",
            target_id=referral.id,
            detail="consent",
        )
    session.flush()


def case_referrals(session: Session, case: Case) -> list[Referral]:
    return list(session.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.created_at)))


def office_referral_key(actor: Staff, referral: Referral, case: Case) -> bytes | None:
    """The office's copy of the referral key, sealed to the office key of the case's epoch."""
    office_key = actor.office_key_of(case.office_key_epoch)
    if office_key is None or referral.sealed_key_office is None:
        return None
    return crypto.open_sealed(office_key, referral.sealed_key_office, purpose="referral-key", record_id=referral.id)


def decrypt_update(referral_key: bytes, update: ReferralUpdate) -> str:
    if update.ciphertext is None:
        return ""
    return crypto.box_decrypt(
        referral_key, update.ciphertext, purpose="referral-feedback", record_id=update.id
    ).decode()


def encrypt_feedback(referral_key: bytes, update_id: str, text: str) -> bytes:
    return crypto.box_encrypt(referral_key, text.encode(), purpose="referral-feedback", record_id=update_id)


def updates_of(session: Session, referral_ids: list[str]) -> dict[str, list[ReferralUpdate]]:
    result: dict[str, list[ReferralUpdate]] = {rid: [] for rid in referral_ids}
    if referral_ids:
        for u in session.scalars(
            select(ReferralUpdate).where(ReferralUpdate.referral_id.in_(referral_ids)).order_by(ReferralUpdate.at)
        ):
            result[u.referral_id].append(u)
    return result


def resend(session: Session, actor: Staff, referral: Referral, partner: PartnerOrganisation) -> None:
    """After a new organisation key: re-seal the referral key (opened through the office's copy)."""
    stale = is_stale(referral.state, referral.key_generation, partner.key_generation)
    case = session.get_one(Case, referral.case_id)
    key = office_referral_key(actor, referral, case) if stale else None
    if key is None:
        raise ReferralRefused(_("Diese Weiterleitung kann nicht erneut gesendet werden."))
    partner_public_key = _verified_partner_key(session, partner)
    referral.sealed_key_partner = crypto.seal(partner_public_key, key, purpose="referral-key", record_id=referral.id)
    referral.key_generation = partner.key_generation
    audit.record_by(
        session,
        actor,
        chain=case.municipality_id,
        action="referral.resent",
        target_id=referral.id,
    )
    session.flush()
    if referral.state != "awaiting_approval":  # not yet released: the partner hears of it on approval
        add_job(session, "notify_partner_referral", referral_id=referral.id)


@dataclass(frozen=True)
class ReferralLine:
    referral: Referral
    partner: PartnerOrganisation
    updates: list[tuple[ReferralUpdate, str]]
    overdue: bool
    stale: bool

    @property
    def reference(self) -> str:
        return referral_reference(self.referral.id)


@dataclass(frozen=True)
class ReferralOverview:
    routing: Routing
    lines: list[ReferralLine]


def overview(session: Session, actor: Staff, case: Case) -> ReferralOverview:
    """Recommendations and the case's referrals with the partners' feedback, for the case page."""
    referrals = case_referrals(session, case)
    partners = {
        p.id: p
        for p in session.scalars(
            select(PartnerOrganisation).where(PartnerOrganisation.id.in_([r.partner_id for r in referrals]))
        )
    }
    updates = updates_of(session, [r.id for r in referrals])
    now = utcnow()
    lines = []
    for referral in referrals:
        key = office_referral_key(actor, referral, case)
        texts = [(u, decrypt_update(key, u) if key else "") for u in updates[referral.id]]
        partner = partners[referral.partner_id]
        lines.append(
            ReferralLine(
                referral,
                partner,
                texts,
                is_overdue(referral.state, referral.due_at, now),
                is_stale(referral.state, referral.key_generation, partner.key_generation),
            )
        )
    return ReferralOverview(recommendations_for(session, case), lines)


def _on_consents_changed(session: Session, case: Case, changed: list[str]) -> None:
    consents_changed(session, case, changed)


# Connected once, when referrals are loaded (core/app.py wires their views, which import this).
reporting_signals.consents_changed.connect(_on_consents_changed, weak=False)
