"""Partner kinds: one entry per kind holds all its words, and the agreement accepts exactly these kinds."""

from __future__ import annotations

import pytest
from flask import Flask

from clearing.partners import kinds
from clearing.partners.agreements import parse
from clearing.partners.errors import AgreementInvalid
from reporting import timeline


def _agreement(kind: str) -> dict[str, object]:
    return {"partners": [{"partner": "stelle", "name": "Eine Stelle", "kind": kind}]}


def test_every_kind_has_its_words(app: Flask) -> None:
    with app.test_request_context():
        names = [kinds.name_of(code) for code in kinds.KINDS]
        for_reporter = [kinds.for_reporter(code) for code in kinds.KINDS]
    assert all(names)
    assert all(for_reporter)
    assert len(set(names)) == len(names) == len(set(for_reporter))
    assert dict(kinds.NAMES) == {code: kind.name for code, kind in kinds.KINDS.items()}


def test_an_unknown_code_reads_as_other(app: Flask) -> None:
    with app.test_request_context():
        assert kinds.name_of("retired_kind") == kinds.name_of(None) == "Andere Partnerorganisation"
        assert kinds.for_reporter("retired_kind") == "eine Partnerorganisation"


def test_an_agreement_names_only_these_kinds() -> None:
    for code in kinds.KINDS:
        assert parse(_agreement(code)).partners[0].kind == code
    with pytest.raises(AgreementInvalid) as refused:
        parse(_agreement("church"))
    assert refused.value.problems == [("partners[0].kind", f"one of {', '.join(kinds.KINDS)}")]


def test_the_reporter_s_timeline_gets_the_kind_s_words_from_here(app: Flask) -> None:
    with app.test_request_context():
        text = timeline.current_event_text()
        assert text("forwarded", "police") == "Weitergeleitet an: die Polizei"
        assert text("forwarded", "employer") == "Weitergeleitet an: das Personalamt Ihres Arbeitgebers"
        assert text("forwarded", "retired_kind") == "Weitergeleitet an: eine Partnerorganisation"
