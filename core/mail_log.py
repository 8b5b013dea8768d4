"""Mail sent at most once per job and recipient, even when a job runs again after a crash.

The marker is committed in its own short transaction right after the SMTP server accepted the
mail, so a retried job skips recipients who already got it. Only a hash is stored: no address.
A database that goes away between the two (a restart) is waited for, up to MARKER_PATIENCE,
instead of failing the job: its retry would mail the same person again.
"""

from __future__ import annotations

import hashlib
import logging
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.config import Config
from core.db import utcnow
from core.mail import send_mail
from core.models import MailDelivery

log = logging.getLogger(__name__)
# Longer than a PostgreSQL restart or failover takes; shorter than RQ's job timeout.
MARKER_PATIENCE = 90.0


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
    _record(factory, key)
    return True


def _record(factory: sessionmaker[Session], key: bytes) -> None:
    """Commit the marker of a mail the SMTP server accepted, waiting out a database outage."""
    deadline = time.monotonic() + MARKER_PATIENCE
    delay = 0.5
    while True:
        try:
            with factory() as session:
                session.add(MailDelivery(key=key, sent_at=utcnow()))
                session.commit()
            return
        except IntegrityError:
            return  # recorded already, by a run of the same job that got here first
        except (OperationalError, InterfaceError) as error:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("mail sent, database unavailable for its marker (%s); retrying", type(error).__name__)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
