"""Mail sent at most once per job and recipient, even when a job runs again after a crash.

The marker is committed in its own short transaction right after the SMTP server accepted the
mail, so a retried job skips recipients who already got it. Only a hash is stored: no address.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import LargeBinary, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from core.config import Config
from core.db import Base, UTCDateTime, utcnow
from core.mail import send_mail


class MailDelivery(Base):
    __tablename__ = "mail_delivery"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def delivery_key(config: Config, job_key: str, recipient: str) -> bytes:
    # Keyed with the secret key: the hash of an address must not be guessable from a list of addresses.
    return hashlib.sha256(
        config.secret_key.encode() + b"|" + job_key.encode() + b"|" + recipient.strip().lower().encode()
    ).digest()


def send_once(factory: sessionmaker[Session], config: Config, job_key: str, to: str, subject: str, body: str) -> bool:
    """Send unless already sent for this job and recipient; True if sent now."""
    key = delivery_key(config, job_key, to)
    with factory() as session:
        if session.scalar(select(MailDelivery.key).where(MailDelivery.key == key)):
            return False
    send_mail(config, to, subject, body)
    with factory() as session:
        session.add(MailDelivery(key=key, sent_at=utcnow()))
        session.commit()
    return True
