"""Every form route refuses a request without a CSRF token, with a clear message."""

from __future__ import annotations

from flask import Flask

from core.tenancy import create_municipality


def test_every_post_route_requires_a_csrf_token(app: Flask) -> None:
    session = app.extensions["komma"].session_factory()
    create_municipality(session, "csrfstadt", "CSRF-Stadt")
    session.commit()
    session.close()
    client = app.test_client()
    post_rules = [rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or set())]
    assert post_rules, "the app has forms"
    for rule in post_rules:
        path = rule.build(dict.fromkeys(rule.arguments, "csrfstadt"), append_unknown=False)[1]
        response = client.post(path, data={"description": "x"})
        assert response.status_code == 400, path
        assert "Das Formular ist abgelaufen" in response.get_data(as_text=True), path
