"""The sanitising module: the one place markup is stripped."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from core.sanitize import clean_text

ROOT = Path(__file__).resolve().parents[2]


def test_markup_is_removed_and_text_kept() -> None:
    assert clean_text("<script>alert(1)</script>Hallo <b>Welt</b>") == "alert(1)Hallo Welt"
    assert clean_text('<img src=x onerror="alert(1)">Bild') == "Bild"
    assert clean_text("a < b & c > d") == "a < b & c > d"


def test_control_and_invisible_characters_are_removed() -> None:
    assert clean_text("ab\x00c\x1bd\u202eef\u200bg") == "abcdefg"
    assert clean_text("Zeile 1\r\nZeile 2\n\n\n\nZeile 3") == "Zeile 1\nZeile 2\n\nZeile 3"


def test_single_line_fields_fold_whitespace() -> None:
    assert clean_text("  Rat\n haus \t Saal ", multiline=False) == "Rat haus Saal"


def test_unicode_is_normalised() -> None:
    assert clean_text("Mu\u0308nchen") == "München"


@given(st.text(max_size=300))
def test_result_has_no_tags_or_control_characters(value: str) -> None:
    result = clean_text(value)
    assert "\x00" not in result
    assert "<script" not in result.lower()
    assert result == result.strip()
    assert clean_text(result) == result or "<" in result


def test_bleach_is_imported_in_one_module_only() -> None:
    importers = [
        path.relative_to(ROOT).as_posix()
        for package in ("core", "reporting", "clearing", "crypto", "workers")
        for path in (ROOT / package).rglob("*.py")
        if "import bleach" in path.read_text() or "from bleach" in path.read_text()
    ]
    assert importers == ["core/sanitize.py"]
