"""Jobs of the office: confirming a notification address."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from core import addresses
from core.accounts import EmailConfirmation
from core.notify import mail_once
from workers import job


@job(addresses.SEND_JOB)
def send_address_confirmation(session: Session, confirmation_id: str) -> None:
    """The link that makes a new notification address count; sent once, then only its hash is kept."""
    row = session.get(EmailConfirmation, confirmation_id)
    if row is None:
        return  # replaced by a newer request or removed: that link must not go out
    token = addresses.token_to_send(current_app.extensions["komma"].config, row)
    if token is None:
        return
    whose = "der Clearingstelle" if row.municipality_id else "Ihres Kontos"
    mail_once(
        session,
        [row.address],
        "Komm.A Meldestelle: Bitte bestätigen Sie Ihre E-Mail-Adresse",
        f"Guten Tag,\n\ndiese Adresse soll die Benachrichtigungsadresse {whose} in der Meldestelle werden.\n"
        "Bitte bestätigen Sie das innerhalb von 24 Stunden über diesen Link:\n"
        f"{{url}}/e-mail-bestaetigen/{token}\n\n"
        "Wenn Sie das nicht veranlasst haben, ignorieren Sie diese Nachricht; es ändert sich dann nichts.",
    )
    addresses.forget_token(row)
