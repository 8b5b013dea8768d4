"""Notification mails from jobs: each recipient at most once per job, no content ever."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import Account
from core.mail_log import send_once

log = logging.getLogger(__name__)

FOOTER = "\n\nDiese Nachricht enthält aus Datenschutzgründen keine Inhalte.\nThis message contains no content, for data protection reasons.\n"


def mail_once(session: Session, recipients: Iterable[str], subject: str, body: str) -> int:
    """Send `body` (with {url} filled in) to each distinct recipient once for the running job."""
    from workers.jobs import ENTRY_ID_KEY

    state = current_app.extensions["komma"]
    config = state.config
    addresses = sorted({r.strip() for r in recipients if r and r.strip()})
    if not addresses or not config.smtp_url:
        log.info("no recipients or no SMTP configured; nothing mailed")
        return 0
    job_key = str(session.info.get(ENTRY_ID_KEY, "direct"))
    text = body.format(url=config.base_url.rstrip("/")) + FOOTER
    return sum(send_once(state.session_factory, config, job_key, to, subject, text) for to in addresses)


def staff_addresses(
    session: Session, municipality_id: str, roles: tuple[str, ...], partner_id: str | None = None
) -> list[str]:
    query = select(Account.email).where(
        Account.municipality_id == municipality_id,
        Account.role.in_(roles),
        Account.active.is_(True),
        Account.email != "",
    )
    if partner_id:
        query = query.where(Account.partner_id == partner_id)
    return list(session.scalars(query))
