"""Intake and mailbox logic: takes a session, raises domain errors, never commits."""

from __future__ import annotations

import secrets
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import crypto
from core import custody, key_binding
from core.config import Config
from core.db import new_id, utcnow
from core.models import Municipality, receipt_salt
from reporting import case_crypto, flood
from reporting.case_crypto import AttachmentMeta
from reporting.content import CONSENT_NAMES, ReportContent
from reporting.errors import ReceiptNotFound, TooManyAttempts
from reporting.models import Attachment, Case, CaseCode, CaseEvent, CaseMessage, ReporterAccess
from reporting.signals import consents_changed
from reporting.uploads import CleanFile
from workers import add_job

REFERENCE_ALPHABET = "ACDEFHJKLMNPRTUVWXY3479"


@dataclass(frozen=True)
class Evidence:
    """A cleaned file with the name the reporter gave it (the name is encrypted like the content)."""

    name: str
    file: CleanFile


@dataclass(frozen=True)
class NewReport:
    """A validated report: the clear codes apart, everything else as `content`."""

    affected_role: str
    channel: str
    incident_types: list[str]
    motives: list[str]
    perpetrator: str
    acute_danger: bool
    incident_month: str | None
    consents: dict[str, bool]
    content: ReportContent
    files: list[Evidence] = field(default_factory=list)


@dataclass(frozen=True)
class Submitted:
    """A stored report. A deferred one has no receipt code yet: the reporter's browser holds the
    case key (sealed, reporting.receipt) until issue_late_receipt derives the code."""

    case: Case
    receipt_code: str = field(repr=False)
    deferred_case_key: bytes | None = field(default=None, repr=False)


def _reporter_access(config: Config, keys: crypto.ReceiptKeys, case_id: str, case_key: bytes) -> ReporterAccess:
    """The reporter's way in, under keys derived with today's Argon2 parameters."""
    return ReporterAccess(
        lookup_id=keys.lookup_id,
        case_id=case_id,
        wrapped_case_key=case_crypto.wrap_for_reporter(keys.reporter_key, case_key, case_id),
        kdf_params=config.argon2.encode(),
    )


def _reference() -> str:
    return "K-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))


def submit_report(
    session: Session, config: Config, municipality: Municipality, report: NewReport, *, solved: bool = True
) -> Submitted:
    """Store a report encrypted, with its outbox notification, in the caller's transaction.

    `solved`: the request carried a solved challenge (reporting.challenge). Without one the report
    is served from the municipality's open budget; once that is spent it is stored all the same
    and only its receipt code is deferred (reporting.flood). Nothing is ever refused for load.
    """
    if not municipality.office_public_key:
        raise ValueError("a municipality that accepts reports has an office key")
    # Before anything is derived or stored: a key someone wrote into the database is refused
    # (key_binding.UnverifiedKey), and nothing of the report is kept.
    office_public_key = key_binding.verified_office_key(session, municipality)
    arrival = flood.arrival(session, municipality.id)
    deferred = arrival.deferred(solved=solved)
    keys = code = None
    with nullcontext(True) if solved or deferred else flood.open_lane() as admitted:
        deferred = deferred or not admitted
        if not deferred:
            code = crypto.generate_receipt_code()
            keys = crypto.derive_receipt_keys(
                code, salt=receipt_salt(session), pepper=config.receipt_pepper, params=config.argon2
            )
    flood_marked = deferred or arrival.flooded
    # New cases seal to the current office key epoch; it is the municipality's public key.
    epoch = custody.current_epoch(session, municipality.id)
    if epoch.public_key != municipality.office_public_key:
        raise ValueError("the municipality's office key is not its current epoch's")
    case_key = crypto.random_key()
    case_id = new_id()
    now = utcnow()
    case = Case(
        id=case_id,
        municipality_id=municipality.id,
        reference=_reference(),
        received_at=now,
        status="received",
        status_changed_at=now,
        urgency="acute" if report.acute_danger else "normal",
        flood_marked=flood_marked,
        affected_role=report.affected_role,
        channel=report.channel,
        incident_month=report.incident_month,
        perpetrator_context=report.perpetrator,
        sealed_case_key=case_crypto.seal_case_key(office_public_key, case_key, case_id),
        office_key_epoch=epoch.epoch,
        report_ciphertext=case_crypto.encrypt_report(case_key, case_id, report.content),
        **{f"consent_{name}": bool(report.consents.get(name)) for name in CONSENT_NAMES},
    )
    address = str(report.content.get("contact_email") or "")
    if report.content.get("contact") == "email" and address:
        case.reporter_notify_ciphertext = case_crypto.seal_reporter_address(config.notify_key, case_id, address)
    case.codes = [CaseCode(kind="incident_type", code=c) for c in dict.fromkeys(report.incident_types)] + [
        CaseCode(kind="motive", code=c) for c in dict.fromkeys(report.motives)
    ]
    session.add(case)
    # The case row first: attachments have no relationship to Case, so the unit of work does not
    # order their INSERT after it by itself (FOREIGN KEY constraint failed).
    session.flush()
    if keys is not None:
        session.add(_reporter_access(config, keys, case_id, case_key))
    session.add(CaseEvent(case_id=case_id, at=now, kind="received"))
    for name in CONSENT_NAMES:
        if report.consents.get(name):
            session.add(CaseEvent(case_id=case_id, at=now, kind="consent_granted", detail=name))
    _add_files(session, case_key, case_id, report.files, message_id=None)
    session.flush()
    # Last: counting locks the municipality's counter rows until the commit (reporting.flood).
    flood.count_report(session, municipality.id, solved=solved, deferred=deferred, marked=flood_marked)
    # During a flood the office hears of it once an hour, not once per report.
    if not flood_marked:
        add_job(session, "notify_new_report", case_id=case_id)
    elif flood.first_flood_mail(session, municipality.id):
        add_job(session, "notify_flood", case_id=case_id)
    if code is None:
        return Submitted(case, "", deferred_case_key=case_key)
    return Submitted(case, crypto.format_receipt_code(code))


def receipt_issued(session: Session, case_id: str) -> bool:
    """Whether the case has its way in for the reporter (a deferred code has been stored)."""
    return session.scalar(select(ReporterAccess.lookup_id).where(ReporterAccess.case_id == case_id)) is not None


def issue_late_receipt(session: Session, config: Config, case_id: str, case_key: bytes) -> str | None:
    """The receipt code of a deferred report, or None while the slow lane is full (try again later).

    The case key comes from the reporter's browser (sealed, reporting.receipt); it is checked
    against the stored report before a code is made, and a case gets one code only.
    """
    case = session.get(Case, case_id)
    if case is None or receipt_issued(session, case_id):
        raise ReceiptNotFound
    try:
        case_crypto.decrypt_report(case_key, case_id, case.report_ciphertext)
    except crypto.CryptoError:
        raise ReceiptNotFound from None
    if not flood.spend_late_receipt(session):
        return None
    code = crypto.generate_receipt_code()
    keys = crypto.derive_receipt_keys(
        code, salt=receipt_salt(session), pepper=config.receipt_pepper, params=config.argon2
    )
    session.add(_reporter_access(config, keys, case_id, case_key))
    session.flush()
    return crypto.format_receipt_code(code)


@dataclass(frozen=True)
class Resealed:
    resealed: int
    # Sealed under a key no longer configured: these reporters get no notification mail.
    unopened: int


def reseal_reporter_addresses(session: Session, config: Config) -> Resealed:
    """Re-seal every notification address not under the current KOMMA_NOTIFY_KEY.

    After a rotation (the old key in KOMMA_NOTIFY_KEY_PREVIOUS) and after the upgrade from addresses
    sealed under KOMMA_SECRET_KEY: once this has run, the previous key and the secret key open none.
    """
    current = case_crypto.notify_prefix(config.notify_key)
    stale = session.execute(
        select(Case.id, Case.reporter_notify_ciphertext).where(
            Case.reporter_notify_ciphertext.is_not(None),
            func.substr(Case.reporter_notify_ciphertext, 1, len(current)) != current,
        )
    ).all()
    unopened = 0
    for case_id, blob in stale:
        if blob is None:  # excluded by the query; for the type checker
            continue
        try:
            address = case_crypto.open_reporter_address(
                config.notify_keys, case_id, blob, legacy_secret_key=config.secret_key
            )
        except crypto.CryptoError:
            unopened += 1
            continue
        session.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(reporter_notify_ciphertext=case_crypto.seal_reporter_address(config.notify_key, case_id, address))
        )
    session.flush()
    return Resealed(len(stale) - unopened, unopened)


def _add_files(session: Session, case_key: bytes, case_id: str, files: list[Evidence], message_id: str | None) -> None:
    for evidence in files:
        attachment_id = new_id()
        meta = AttachmentMeta(
            name=evidence.name,
            media_type=evidence.file.media_type,
            size=len(evidence.file.data),
            metadata_warning=evidence.file.metadata_warning,
        )
        place = case_crypto.AttachmentPlace(case_id, message_id, attachment_id)
        meta_blob, content_blob = case_crypto.encrypt_attachment(case_key, place, meta, evidence.file.data)
        session.add(
            Attachment(
                id=attachment_id,
                case_id=case_id,
                message_id=message_id,
                meta_ciphertext=meta_blob,
                content_ciphertext=content_blob,
            )
        )


# The mailbox ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailboxKey:
    """What an opened mailbox holds server-side (encrypted under the browser's session token)."""

    case_id: str
    case_key: bytes


def open_mailbox(session: Session, config: Config, code_text: str, *, solved: bool = True) -> MailboxKey:
    """The case behind a receipt code. A wrong code costs the same derivation as a right one.

    `solved`: the request carried a solved challenge; then the code is always checked. Without one
    it is checked while the installation's open budget of wrong codes lasts and this process's open
    lane is free (reporting.flood), TooManyAttempts otherwise: it has not been checked.
    """
    if solved:
        return _checked(session, config, code_text, solved=True)
    if not flood.open_code_allowed(session):
        raise TooManyAttempts
    with flood.open_lane() as admitted:
        if not admitted:
            flood.note_code_waiting(session)
            raise TooManyAttempts
        return _checked(session, config, code_text, solved=False)


def _checked(session: Session, config: Config, code_text: str, *, solved: bool) -> MailboxKey:
    try:
        key = _open_mailbox(session, config, code_text)
    except ReceiptNotFound:
        flood.count_code(session, solved=solved, found=False)
        raise
    return key


def _open_mailbox(session: Session, config: Config, code_text: str) -> MailboxKey:
    try:
        code = crypto.normalise_receipt_code(code_text)
    except crypto.InvalidReceiptCode:
        # Still derive, so a malformed code takes as long as a well-formed one.
        code = "0" * crypto.RECEIPT_DIGITS
        malformed = True
    else:
        malformed = False
    salt = receipt_salt(session)
    keys = crypto.derive_receipt_keys(code, salt=salt, pepper=config.receipt_pepper, params=config.argon2)
    if malformed:
        raise ReceiptNotFound
    access = session.get(ReporterAccess, keys.lookup_id)
    if access is None:
        found = _open_with_older_parameters(session, config, code, salt, keys)
        if found is None:
            raise ReceiptNotFound
        case_id, case_key = found
    else:
        try:
            case_key = case_crypto.unwrap_for_reporter(keys.reporter_key, access.wrapped_case_key, access.case_id)
        except crypto.CryptoError:
            raise ReceiptNotFound from None
        case_id = access.case_id
    return MailboxKey(case_id, case_key)


def _open_with_older_parameters(
    session: Session, config: Config, code: str, salt: bytes, current: crypto.ReceiptKeys
) -> tuple[str, bytes] | None:
    """Try the parameters of codes issued before the current ones; renew the access on a match.

    Costs one more derivation per older parameter set while such codes exist, none after.
    """
    older = session.scalars(
        select(ReporterAccess.kdf_params).where(ReporterAccess.kdf_params != config.argon2.encode()).distinct()
    ).all()
    for encoded in older:
        try:
            params = crypto.Argon2Params.decode(encoded)
        except crypto.FormatError:
            continue
        keys = crypto.derive_receipt_keys(code, salt=salt, pepper=config.receipt_pepper, params=params)
        access = session.get(ReporterAccess, keys.lookup_id)
        if access is None or access.kdf_params != encoded:
            continue
        try:
            case_key = case_crypto.unwrap_for_reporter(keys.reporter_key, access.wrapped_case_key, access.case_id)
        except crypto.CryptoError:
            return None
        case_id = access.case_id
        session.delete(access)
        session.flush()
        session.add(_reporter_access(config, current, case_id, case_key))
        session.flush()
        return case_id, case_key
    return None


def report_stored(engine: Engine, case_id: str) -> bool | None:
    """Whether a case exists, on a connection of its own; None when the database cannot tell."""
    try:
        with engine.connect() as connection:
            return connection.execute(select(Case.id).where(Case.id == case_id)).first() is not None
    except DBAPIError:
        return None


@dataclass(frozen=True)
class StatusStep:
    kind: str
    at: datetime
    detail: str | None


@dataclass(frozen=True)
class MailboxMessage:
    id: str
    author: str
    at: datetime
    body: str
    attachments: list[str]


@dataclass(frozen=True)
class MailboxView:
    case: Case
    report: ReportContent
    steps: list[StatusStep]
    messages: list[MailboxMessage]
    report_files: list[str]
    consents: dict[str, bool]


def mailbox_view(session: Session, key: MailboxKey) -> MailboxView:
    """The case as its reporter sees it, their report included: the receipt opens the case key itself."""
    case = session.get(Case, key.case_id)
    if case is None:
        raise ReceiptNotFound
    report = case_crypto.decrypt_report(key.case_key, case.id, case.report_ciphertext)
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at)).all()
    steps = [StatusStep(e.kind, e.at, e.detail) for e in events]
    attachments = session.scalars(
        select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.created_at)
    ).all()
    # A record that does not open where it is stored (an internal note copied into the message
    # table, a file moved from another message or case) is left out: never shown as a message.
    names: dict[str | None, list[str]] = {}
    for attachment in attachments:
        meta = case_crypto.opened_or_none(
            f"attachment {attachment.id}",
            case_crypto.decrypt_attachment_meta,
            key.case_key,
            case_crypto.attachment_place(attachment),
            attachment.meta_ciphertext,
        )
        if meta is not None:
            names.setdefault(attachment.message_id, []).append(meta.name)
    rows = session.scalars(
        select(CaseMessage).where(CaseMessage.case_id == case.id).order_by(CaseMessage.created_at)
    ).all()
    messages = []
    for m in rows:
        body = case_crypto.opened_or_none(
            f"message {m.id}",
            case_crypto.decrypt_message,
            key.case_key,
            case.id,
            m.id,
            m.author,
            m.ciphertext,
            m.crypto_format,
        )
        if body is not None:
            messages.append(MailboxMessage(m.id, m.author, m.created_at, body, names.get(m.id, [])))
    consents = {name: case.consent(name) for name in CONSENT_NAMES}
    return MailboxView(case, report, steps, messages, names.get(None, []), consents)


def add_reporter_message(session: Session, key: MailboxKey, body: str, files: list[Evidence]) -> CaseMessage:
    message_id = new_id()
    message = CaseMessage(
        id=message_id,
        case_id=key.case_id,
        author="reporter",
        created_at=utcnow(),
        ciphertext=case_crypto.encrypt_message(key.case_key, key.case_id, message_id, "reporter", body),
    )
    session.add(message)
    session.flush()
    _add_files(session, key.case_key, key.case_id, files, message_id=message_id)
    session.add(CaseEvent(case_id=key.case_id, kind="reporter_message"))
    session.flush()
    add_job(session, "notify_case_activity", case_id=key.case_id)
    return message


def change_consents(session: Session, key: MailboxKey, wanted: dict[str, bool]) -> list[str]:
    """Apply each changed consent with its own time-stamped event; returns the changed names."""
    case = session.get(Case, key.case_id)
    if case is None:
        raise ReceiptNotFound
    changed = []
    now = utcnow()
    for name in CONSENT_NAMES:
        value = bool(wanted.get(name))
        if case.consent(name) != value:
            setattr(case, f"consent_{name}", value)
            session.add(
                CaseEvent(
                    case_id=case.id, at=now, kind="consent_granted" if value else "consent_withdrawn", detail=name
                )
            )
            changed.append(name)
    if changed:
        session.flush()
        # Referrals that depended on a withdrawn consent are cancelled or withdrawn at once.
        consents_changed.send(session, case=case, changed=changed)
        add_job(session, "notify_case_activity", case_id=case.id)
    return changed


def request_deletion(session: Session, key: MailboxKey) -> None:
    case = session.get(Case, key.case_id)
    if case is None:
        raise ReceiptNotFound
    if case.deletion_requested_at is None:
        case.deletion_requested_at = utcnow()
        session.add(CaseEvent(case_id=case.id, kind="deletion_requested"))
        session.flush()
        add_job(session, "notify_case_activity", case_id=case.id)
