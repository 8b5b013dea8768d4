"""The security baseline on every response."""

from __future__ import annotations

from pathlib import Path

from flask import request
from flask.testing import FlaskClient

from core import create_app
from core.config import Config
from tests.conftest import make_test_config


def test_every_dynamic_page_has_the_strict_headers(client: FlaskClient) -> None:
    for path in ("/", "/barrierefreiheit", "/datenschutz", "/does-not-exist"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "camera=()" in response.headers["Permissions-Policy"]
        assert response.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached_but_keep_the_policy(client: FlaskClient) -> None:
    response = client.get("/static/css/site.css")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"
    assert "Content-Security-Policy" in response.headers
    response.close()


def test_pages_load_nothing_from_other_hosts(client: FlaskClient) -> None:
    for path in ("/", "/barrierefreiheit", "/datenschutz", "/leichte-sprache"):
        page = client.get(path).get_data(as_text=True)
        assert "http://" not in page.replace("http://localhost", "")
        assert "https://" not in page
        assert "//" not in page.replace("http://localhost", "").replace("<!--", "")


def test_no_inline_script_or_style_in_templates() -> None:
    root = Path(__file__).resolve().parents[2] / "templates"
    for template in root.rglob("*.html"):
        text = template.read_text()
        assert "<script>" not in text, template
        assert " style=" not in text, template
        assert " on" + "click=" not in text, template


def test_session_cookie_is_strict_and_http_only(app_config: Config, tmp_path: Path) -> None:
    app = create_app(
        make_test_config(
            app_config.database_url,
            tmp_path / "prod",
            env="production",
            notify_key=b"n" * 40,
            audit_key=b"a" * 40,
            key_binding_key=b"b" * 40,
        )
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"
    assert app.config["MAX_CONTENT_LENGTH"] > 0
    app.extensions["komma"].engine.dispose()


def test_oversized_request_is_refused_with_a_clear_message(app_config: Config) -> None:
    app = create_app(app_config)

    @app.post("/echo-size")
    def echo_size() -> str:
        return str(len(request.get_data()))

    limit = app.config["MAX_CONTENT_LENGTH"]
    response = app.test_client().post("/echo-size", data=b"x" * (limit + 1), content_type="application/octet-stream")
    assert response.status_code == 413
    assert "zu groß" in response.get_data(as_text=True)
    app.extensions["komma"].engine.dispose()
