"""Languages: German by default, English complete, the choice kept without a cookie."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]


def test_german_is_the_default(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="de">' in page
    assert "Zum Inhalt springen" in page


def test_english_on_request_and_links_keep_it_without_a_cookie(client: FlaskClient) -> None:
    response = client.get("/?lang=en")
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Skip to content" in page
    assert "/barrierefreiheit?lang=en" in page
    assert "Set-Cookie" not in response.headers


def test_browser_preference_is_honoured(client: FlaskClient) -> None:
    page = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="en">' in page


def test_english_catalogue_is_complete() -> None:
    with (ROOT / "core/translations/en/LC_MESSAGES/messages.po").open("rb") as f:
        catalogue = read_po(f)
    missing = [m.id for m in catalogue if m.id and not (m.string if isinstance(m.string, str) else all(m.string))]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert missing == []
    assert fuzzy == []


def test_catalogue_covers_every_message_in_the_code() -> None:
    from babel.messages.extract import extract_from_dir

    with (ROOT / "core/translations/en/LC_MESSAGES/messages.po").open("rb") as f:
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f)}
    method_map = [
        ("core/**.py", "python"),
        ("reporting/**.py", "python"),
        ("clearing/**.py", "python"),
        ("workers/**.py", "python"),
        ("templates/**.html", "jinja2"),
    ]
    found = {
        (message if isinstance(message, str) else message[0])
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT),
            method_map=method_map,
            keywords={"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None},
        )
    }
    assert sorted(found - known) == []
