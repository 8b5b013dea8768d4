"""Sending mail over SMTP (KOMMA_SMTP_URL). Mails say that something waits, never what."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from core.config import Config


class MailNotConfigured(RuntimeError):
    """KOMMA_SMTP_URL is not set."""


def send_mail(config: Config, to: str, subject: str, body: str) -> None:
    """Send one plain-text mail. smtp://host:port, smtp+starttls://... or smtps://...; user:pass@ optional."""
    if not config.smtp_url:
        raise MailNotConfigured
    url = urlsplit(config.smtp_url)
    message = EmailMessage()
    message["From"] = config.mail_sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=config.mail_sender.rsplit("@", 1)[-1])
    message.set_content(body)
    host = url.hostname or "localhost"
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, url.port or 465, timeout=30)
    else:
        client = smtplib.SMTP(host, url.port or 25, timeout=30)
    with client:
        if url.scheme == "smtp+starttls":
            client.starttls()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)
