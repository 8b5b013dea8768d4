"""Notification mails from jobs: each recipient at most once per job, no content ever.

Subjects and bodies are gettext messages (lazy_gettext, named placeholders) rendered here in the
office's language, whichever language the request that queued the job had.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Config
from core.i18n import DEFAULT_LANGUAGE
from core.mail_log import send_once
from core.models import Account
from workers.jobs import JobContext

log = logging.getLogger(__name__)

# Mails go to offices and partners, who work in German; the reporter's mail says it in both languages.
MAIL_LANGUAGE = DEFAULT_LANGUAGE

FOOTER = _l(
    "Diese Nachricht enthält aus Datenschutzgründen keine Inhalte.\n"
    "This message contains no content, for data protection reasons."
)

# A mail's subject or body: a lazy_gettext message, rendered when the mail is sent.
MailText = str | LazyString


def site_url(config: Config) -> str:
    """The site's address for links in mails (%(url)s in the messages), without a trailing slash."""
    return config.base_url.rstrip("/")


def mail_once(context: JobContext, recipients: Iterable[str], subject: MailText, body: MailText) -> int:
    """Send `body` (and the footer) to each distinct recipient once for the running job."""
    config = context.config
    addresses = sorted({r.strip() for r in recipients if r and r.strip()})
    if not addresses or not config.smtp_url:
        log.info("no recipients or no SMTP configured; nothing mailed")
        return 0
    with force_locale(MAIL_LANGUAGE):
        subject_text, text = str(subject), f"{body}\n\n{FOOTER}\n"
    return sum(send_once(context.session_factory, config, context.entry_id, to, subject_text, text) for to in addresses)


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
