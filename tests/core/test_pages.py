"""The base layout: landmarks, skip link, accessibility statement on every page, calm errors."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from core import create_app
from core.config import Config
from core.pages import STATEMENT_CHECKED
from tests.conftest import make_test_config
from tests.factories import add_town


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


def test_accessibility_statement_has_contact_date_conformity_limitations_and_conciliation(
    client: FlaskClient, app_config: Config
) -> None:
    page = client.get("/barrierefreiheit").get_data(as_text=True)
    # No contact configured: the installation's mail sender.
    assert f'<a href="mailto:{app_config.mail_sender}">{app_config.mail_sender}</a>' in page
    assert f"zuletzt am {STATEMENT_CHECKED.day}. Dezember {STATEMENT_CHECKED.year} überprüft" in page
    assert "teilweise mit der BITV 2.0 vereinbar" in page
    assert "Nicht barrierefreie Inhalte" in page
    assert "Gebärdensprache" in page
    assert "Schlichtungsstelle nach § 16 Behindertengleichstellungsgesetz (BGG)" in page
    assert "Mauerstraße 53" in page
    assert "10117 Berlin" in page
    assert "www.schlichtungsstelle-bgg.de" in page
    # The address is named as text: the page links nowhere outside the service but to the mail address.
    assert not re.search(r'href="(https?:)?//', page)


def test_accessibility_contact_comes_from_the_configuration(migrated_database: str, tmp_path: Path) -> None:
    config = make_test_config(migrated_database, tmp_path / "instance", mail_sender="noreply@komma.example")
    assert config.feedback_address == "noreply@komma.example"
    config = Config.from_env({"KOMMA_ACCESSIBILITY_CONTACT": "barrierefrei@stadt.example"}, **_test_values(config))
    assert config.feedback_address == "barrierefrei@stadt.example"
    application = create_app(config)
    try:
        page = application.test_client().get("/barrierefreiheit").get_data(as_text=True)
    finally:
        application.extensions["komma"].engine.dispose()
    assert 'href="mailto:barrierefrei@stadt.example"' in page
    assert "noreply@komma.example" not in page


def _test_values(config: Config) -> dict[str, object]:
    keep = ("database_url", "instance_path", "secret_key", "receipt_pepper", "argon2", "testing", "mail_sender")
    return {name: getattr(config, name) for name in keep}


def test_plain_language_page_links_the_form_of_each_municipality_and_the_mailbox(
    client: FlaskClient, session: Session
) -> None:
    add_town(session, "leichtstadt", "Leichtstadt")
    page = client.get("/leichte-sprache").get_data(as_text=True)
    assert '<a href="/melden/leichtstadt">Meldung machen für Leichtstadt</a>' in page
    assert '<a href="/postfach">Zum Postfach</a>' in page
    for word in ("Was ist eine Meldung?", "Was ist der Code?", "Was ist das Postfach?"):
        assert f"<h2>{word}</h2>" in page
    assert '<a href="tel:110">110</a>' in page


def test_plain_language_sentences_are_short(client: FlaskClient) -> None:
    """Leichte Sprache: one statement per sentence, so no sentence runs longer than a line."""
    page = client.get("/leichte-sprache").get_data(as_text=True)
    main = page.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    blocks = [re.sub(r"<[^>]+>", " ", b) for _tag, b in re.findall(r"<(p|h1|h2|li)\b[^>]*>(.*?)</\1>", main, re.S)]
    sentences = [s.strip() for b in blocks for s in re.split(r"(?<=[.?!:])\s", b) if s.strip()]
    assert len(sentences) > 20
    assert max(len(s.split()) for s in sentences) <= 12, sentences


def test_plain_language_page_says_when_no_municipality_takes_reports(client: FlaskClient) -> None:
    page = client.get("/leichte-sprache").get_data(as_text=True)
    assert "Im Moment nimmt keine Stadt und keine Gemeinde Meldungen an." in page
    assert '<a href="/postfach">Zum Postfach</a>' in page


def test_unknown_page_is_a_calm_404_in_german(client: FlaskClient) -> None:
    response = client.get("/gibt-es-nicht")
    assert response.status_code == 404
    assert "Seite nicht gefunden" in response.get_data(as_text=True)


def test_wrong_method_is_405_not_500(client: FlaskClient) -> None:
    response = client.delete("/")
    assert response.status_code == 405
