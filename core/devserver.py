"""The development server of `komma run`, with a request log that names no client."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, run_simple

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


def serve(app: Flask, host: str, port: int) -> None:
    run_simple(host, port, app, threaded=True, request_handler=AnonymousRequestHandler, use_reloader=False)
