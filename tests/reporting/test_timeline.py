"""The reporter's timeline in words: reporting's own details, and the words other features hand in."""

from __future__ import annotations

from flask import Flask

from reporting.timeline import event_text


def test_own_details_and_handed_in_ones(app: Flask) -> None:
    handed_in = {"forwarded": lambda code: f"die Stelle {code}"}
    with app.test_request_context():
        assert event_text("forwarded", "x", handed_in) == "Weitergeleitet an: die Stelle x"
        assert event_text("forwarded", None, handed_in) == "Weitergeleitet an"
        # Without words for a kind, the event still reads, without its detail.
        assert event_text("forwarded", "x", {}) == "Weitergeleitet an"
        assert event_text("consent_withdrawn", "statistics", {}) == "Einwilligung zurückgezogen: Anonyme Statistik"
        assert event_text("consent_granted", "unknown", handed_in) == "Einwilligung erteilt"
        assert event_text("received", None, handed_in) == "Ihre Meldung ist eingegangen"
        assert event_text("something_new", None, {}) == "something_new"
