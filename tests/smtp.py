"""A real SMTP server for tests: aiosmtpd on a free local port, keeping every message it receives.

Use the `smtp_server` fixture and point the app at `smtp_server.url` (make_test_config(smtp_url=...)).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    """One delivered message: the envelope and the bytes exactly as the server got them."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed: EmailMessage = email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[assignment]
        return parsed

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        """The plain-text body, decoded."""
        body = self.message.get_body(preferencelist=("plain",))
        assert body is not None, "no plain-text part"
        content: str = body.get_content()
        return content


@dataclass
class SmtpServer:
    host: str
    port: int
    _mails: list[ReceivedMail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def mails(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._mails)

    def clear(self) -> None:
        with self._lock:
            self._mails.clear()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[ReceivedMail]:
        """At least `count` mails, waiting for a worker process to send them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(mails := self.mails) >= count:
                return mails
            time.sleep(0.05)
        pytest.fail(f"expected {count} mails within {timeout} s, got {len(self.mails)}")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook)
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        mail = ReceivedMail(str(envelope.mail_from), tuple(envelope.rcpt_tos), content)
        with self._lock:
            self._mails.append(mail)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_smtp_server(host: str = "127.0.0.1") -> Iterator[SmtpServer]:
    """A running SMTP server on a free port until the block ends."""
    server = SmtpServer(host, free_port())
    loop = asyncio.new_event_loop()
    controller = Controller(server, hostname=server.host, port=server.port, loop=loop, server_hostname="localhost")
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
        loop.close()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server for one test; stopped afterwards."""
    with running_smtp_server() as server:
        yield server
