"""The development server of `komma run`, with a request log that names no client."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

log = logging.getLogger("komma.request")


class AnonymousRequestHandler(WSGIRequestHandler):
    """Logs method, path and status only: werkzeug's default starts with the client address."""

    def address_string(self) -> str:
        return "-"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        log.info("%s %s %s", self.command, path, code)

    def log_error(self, format: str, *args: object) -> None:  # noqa: A002 (name from BaseHTTPRequestHandler)
        log.warning("request error: %s", format % args)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.info(format, *args)


def serve(app: Flask, host: str, port: int, *, announce: Callable[[str], None] = print) -> None:
    """Serve until Ctrl-C; once the port is open, announce the address as the last line before any request."""
    server = make_server(host, port, app, threaded=True, request_handler=AnonymousRequestHandler)
    shown_host = f"[{host}]" if ":" in host else host
    announce(f"Komm.A läuft auf http://{shown_host}:{server.server_port}")
    try:
        with suppress(KeyboardInterrupt):  # Ctrl-C is how the development server ends
            server.serve_forever()
    finally:
        server.server_close()
