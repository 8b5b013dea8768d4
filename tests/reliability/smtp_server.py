"""A real SMTP server (aiosmtpd) on a fixed free port that can be stopped and started again.

It keeps every message it accepts; recipients in `refuse` get a temporary 451 at RCPT, as a
mail server with a full mailbox or greylisting would answer.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpServer:
    """Start, stop and start again on the same port; `url` is what KOMMA_SMTP_URL takes."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = Controller(_Handler(self), hostname=HOST, port=self.port, loop=asyncio.new_event_loop())
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            controller.loop.close()

    # What arrived ------------------------------------------------------------------------------

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} mails, got {self.count()}")
            time.sleep(0.05)

    def _accept(self, content: bytes) -> None:
        message = email.message_from_bytes(content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:  # noqa: N802 (aiosmtpd's hook name)
        if address in self.server.refuse:
            return "451 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        self.server._accept(content)
        return "250 OK"


def text_of(message: EmailMessage) -> str:
    """Subject and body as a reader sees them (decoded)."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return f"{message['Subject']}\n{body.get_content()}"
