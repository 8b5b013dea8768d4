"""Jobs of the office: confirming a notification address."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from core import addresses
from core.models import EmailConfirmation
from core.notify import mail_once, site_url
from workers import job
from workers.jobs import JobContext


@job(addresses.SEND_JOB)
def send_address_confirmation(session: Session, context: JobContext, confirmation_id: str) -> None:
    """The link that makes a new notification address count; sent once, then only its hash is kept."""
    row = session.get(EmailConfirmation, confirmation_id)
    if row is None:
        return  # replaced by a newer request or removed: that link must not go out
    token = addresses.token_to_send(context.config, row)
    if token is None:
        return
    link = f"{site_url(context.config)}/e-mail-bestaetigen/{token}"
    if row.municipality_id:
        body = _l(
            "Guten Tag,\n\ndiese Adresse soll die Benachrichtigungsadresse der Clearingstelle in der Meldestelle werden.\n"
            "Bitte bestätigen Sie das innerhalb von 24 Stunden über diesen Link:\n"
            "%(link)s\n\n"
            "Wenn Sie das nicht veranlasst haben, ignorieren Sie diese Nachricht; es ändert sich dann nichts.",
            link=link,
        )
    else:
        body = _l(
            "Guten Tag,\n\ndiese Adresse soll die Benachrichtigungsadresse Ihres Kontos in der Meldestelle werden.\n"
            "Bitte bestätigen Sie das innerhalb von 24 Stunden über diesen Link:\n"
            "%(link)s\n\n"
            "Wenn Sie das nicht veranlasst haben, ignorieren Sie diese Nachricht; es ändert sich dann nichts.",
            link=link,
        )
    mail_once(context, [row.address], _l("Komm.A Meldestelle: Bitte bestätigen Sie Ihre E-Mail-Adresse"), body)
    addresses.forget_token(row)
