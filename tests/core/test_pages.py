"""The base layout: landmarks, skip link, accessibility statement on every page, calm errors."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_every_page_has_landmarks_skip_link_and_the_accessibility_statement(client: FlaskClient) -> None:
    for path in ("/", "/barrierefreiheit", "/datenschutz", "/leichte-sprache", "/nope"):
        page = client.get(path).get_data(as_text=True)
        assert '<a class="skip-link" href="#main">' in page
        assert '<main id="main"' in page
        assert "<header" in page
        assert "<footer" in page
        assert 'href="/barrierefreiheit"' in page
        assert 'media="print"' in page


def test_accessibility_statement_names_a_feedback_route(client: FlaskClient) -> None:
    page = client.get("/barrierefreiheit").get_data(as_text=True)
    assert "BITV 2.0" in page
    assert "Feedback" in page


def test_unknown_page_is_a_calm_404_in_german(client: FlaskClient) -> None:
    response = client.get("/gibt-es-nicht")
    assert response.status_code == 404
    assert "Seite nicht gefunden" in response.get_data(as_text=True)


def test_wrong_method_is_405_not_500(client: FlaskClient) -> None:
    response = client.delete("/")
    assert response.status_code == 405
