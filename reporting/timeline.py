"""The reporter's timeline in words, with the words other features hand in for their events.

An event's detail is a code, never content (reporting.models.CaseEvent). Reporting words its own
details (consents). The feature that writes an event of another kind words that kind's details
(clearing.partners.kinds for "forwarded") and core/app.py hands the words in: reporting imports no
feature, and the words follow the reader's language when the page is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from flask import Flask, current_app

from reporting.codes import CONSENT_SHORT, EVENT_WORDS

# A detail code in words, e.g. "police" -> "die Polizei".
DetailWords = Callable[[str], str]
EventText = Callable[[str, str | None], str]

EXTENSION_KEY = "komma_timeline_details"


def init_app(app: Flask, *, details: Mapping[str, DetailWords]) -> None:
    """The words for the details of events other features write, by event kind."""
    app.extensions[EXTENSION_KEY] = dict(details)


def event_text(kind: str, detail: str | None, details: Mapping[str, DetailWords]) -> str:
    """A timeline entry in words: 'Forwarded to the police', 'Consent withdrawn: statistics'."""
    words = str(EVENT_WORDS.get(kind, kind))
    describe = details.get(kind)
    if describe is not None and detail:
        return f"{words}: {describe(detail)}"
    if kind.startswith("consent_") and detail in CONSENT_SHORT:
        return f"{words}: {CONSENT_SHORT[detail]}"
    return words


def current_event_text() -> EventText:
    """event_text with the words the app handling this request was given."""
    details: Mapping[str, DetailWords] = current_app.extensions[EXTENSION_KEY]
    return partial(event_text, details=details)
