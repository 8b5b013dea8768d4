"""No client address, user agent or referrer reaches a log."""

from __future__ import annotations

import logging
import runpy
import socket
import threading
import urllib.request
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from core.devserver import AnonymousRequestHandler

CLIENT_ADDRESS = "203.0.113.77"
USER_AGENT = "CanaryBrowser/9.9 (leak-test)"
REFERRER = "https://referrer.example/secret-path"


def test_app_logs_nothing_about_the_client(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    headers = {"User-Agent": USER_AGENT, "Referer": REFERRER, "X-Forwarded-For": CLIENT_ADDRESS}
    for path in ("/", "/nope", "/barrierefreiheit"):
        client.get(path, headers=headers, environ_base={"REMOTE_ADDR": CLIENT_ADDRESS})
    client.post("/", headers=headers, environ_base={"REMOTE_ADDR": CLIENT_ADDRESS})
    for needle in (CLIENT_ADDRESS, USER_AGENT, REFERRER, "referrer.example"):
        assert needle not in caplog.text


# Served from a thread of its own, which cannot share the test's connection.
@pytest.mark.committing
def test_development_server_request_log_names_no_client(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=AnonymousRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/?q=1", headers={"User-Agent": USER_AGENT, "Referer": REFERRER}
        )
        with urllib.request.urlopen(request) as response:  # noqa: S310 (a local test server)
            assert response.status == 200
    finally:
        server.shutdown()
        thread.join()
    assert "GET / 200" in caplog.text
    for needle in ("127.0.0.1", USER_AGENT, REFERRER, "q=1"):
        assert needle not in caplog.text


def test_gunicorn_config_has_no_access_log() -> None:
    settings = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert settings["accesslog"] is None
    assert "access_log_format" not in settings
