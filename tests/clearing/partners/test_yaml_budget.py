"""The agreement YAML is read within a budget: a "billion laughs" document, an oversized or too deeply
nested file are refused fast and in little memory, and no message quotes more than a short excerpt
of the input, in the editor, on the command line or from parse_yaml."""

from __future__ import annotations

import html
import re
import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.partners.agreements import MAX_PROBLEMS, YAML_BUDGET, parse_yaml
from clearing.partners.errors import AgreementInvalid
from clearing.partners.examples import EXAMPLE_AGREEMENT
from clearing.partners.models import AgreementVersion
from clearing.partners.yaml_budget import EXCERPT_CHARS, excerpt
from core.config import Config
from tests.factories import Town, add_person
from tests.web import csrf_token, logged_in_client

EDITOR = "/verwaltung/vereinbarungen"
# Nine levels, each repeating the one below nine times: 9^9 (about 10^9) leaves from half a kilobyte.
# Without a budget, the message naming the unknown code printed all of them.
BILLION_LAUGHS = (
    "partners:\n- partner: ab\n  name: B\n  kind: counselling\n  l0: &l0 [lol"
    + ",lol" * 8
    + "]\n"
    + "".join(f"  l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]\n" for level in range(1, 9))
    + "  motives: [*l8]\n"
)
# 10 kB that must never come back whole; as a key it needs "? " (YAML allows 1024 characters otherwise).
MARKER = "Vorsicht-" + "x" * 10_000
# A line of a message: place and problem together, as the editor and the command line show them.
MESSAGE_CHARS = 200

SHARED_LISTS = """\
partners:
  - partner: beratung
    name: Beratungsstelle
    kind: counselling
    requires_consent: counselling
    incident_types: &hate [threat, insult_defamation, hate_speech]
    fields: &standard [incident, description, place]
  - &police
    partner: polizei
    name: Polizei
    kind: police
    incident_types: *hate
    requires_consent: police
    fields: *standard
    four_eyes: true
  - <<: *police
    partner: staatsschutz
    name: Staatsschutz
    response_days: 2
"""


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(AgreementInvalid) as refused:
        parse_yaml(text)
    return refused.value.problems


def _assert_bounded(problems: list[tuple[str, str]]) -> None:
    assert 0 < len(problems) <= MAX_PROBLEMS + 1
    for place, problem in problems:
        assert len(f"{place}: {problem}") <= MESSAGE_CHARS, (place[:100], problem[:100])
        assert (place + problem).isprintable()


def _nested(levels: int) -> str:
    return "partners: " + "[" * levels + "]" * levels + "\n"


# parse_yaml ------------------------------------------------------------------------------------------------


def test_billion_laughs_is_refused_fast_and_in_little_memory() -> None:
    assert len(BILLION_LAUGHS.encode()) < 512
    tracemalloc.start()
    started = time.perf_counter()
    try:
        problems = _problems(BILLION_LAUGHS)
    finally:
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < 2
    assert peak < 50 * 1024 * 1024
    assert problems == [("line 9, column 12", "more than 10000 entries, counting what aliases repeat")]


def test_an_agreement_with_a_few_anchors_and_aliases_still_parses() -> None:
    spec = parse_yaml(SHARED_LISTS)
    police, state_security = spec.rule_for("polizei"), spec.rule_for("staatsschutz")
    assert police is not None
    assert state_security is not None
    assert police.incident_types == ("threat", "insult_defamation", "hate_speech")
    assert police.fields == ("incident", "description", "place")
    # Merged from the police entry, with its own key, name and deadline.
    assert (state_security.kind, state_security.four_eyes, state_security.fields, state_security.response_days) == (
        "police",
        True,
        police.fields,
        2,
    )


def test_the_example_alliance_is_well_inside_every_budget() -> None:
    assert len(EXAMPLE_AGREEMENT.encode()) * 10 < YAML_BUDGET.max_bytes
    assert parse_yaml(EXAMPLE_AGREEMENT).rule_for("opferberatung") is not None


def test_few_aliases_repeating_a_long_list_are_counted_at_its_size() -> None:
    long_list = "[" + ", ".join(["threat"] * 2_000) + "]"
    text = (
        f"partners:\n  - partner: beratung\n    name: B\n    kind: counselling\n    incident_types: &long {long_list}\n"
        + "".join(f"  - {{partner: p{i}, name: P, kind: counselling, incident_types: *long}}\n" for i in range(5))
    )
    assert text.count("*long") == 5
    assert _problems(text) == [("line 9, column 63", "more than 10000 entries, counting what aliases repeat")]


def test_more_aliases_than_allowed_are_refused() -> None:
    codes = ", ".join(["*t"] * (YAML_BUDGET.max_aliases + 1))
    text = f"partners:\n  - partner: beratung\n    name: B\n    kind: counselling\n    motives: [&t racism, {codes}]\n"
    ((place, problem),) = _problems(text)
    assert re.fullmatch(r"line 5, column \d+", place)
    assert problem == "more than 50 aliases (*name)"


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert _problems("partners: &loop [*loop]\n") == [("line 1, column 18", "an alias inside the entry it names")]


def test_too_deep_nesting_is_refused_without_recursing_into_it() -> None:
    assert _problems(_nested(9)) == [("partners[0]", "must be a mapping with partner, name, kind ...")]
    assert _problems(_nested(10)) == [("line 1, column 20", "nested more than 10 levels deep")]
    started = time.perf_counter()
    assert _problems(_nested(50_000)[: YAML_BUDGET.max_bytes]) == [
        ("line 1, column 20", "nested more than 10 levels deep")
    ]
    assert time.perf_counter() - started < 2


def test_an_alias_counts_the_levels_it_repeats() -> None:
    text = "partners: [&deep [[[[[threat]]]]], [[[*deep]]]]\n"
    assert _problems(text) == [("line 1, column 39", "nested more than 10 levels deep")]


def test_an_oversized_file_is_refused_before_it_is_read() -> None:
    started = time.perf_counter()
    assert _problems(EXAMPLE_AGREEMENT + "#" * YAML_BUDGET.max_bytes) == [("file", "larger than 64 kB")]
    # Counted in bytes: 40 000 umlauts are 80 kB.
    assert _problems("# " + "ä" * 40_000) == [("file", "larger than 64 kB")]
    assert time.perf_counter() - started < 1


def test_values_python_refuses_are_named_not_a_crash() -> None:
    for value, problem in (
        ("2001-13-01", "not valid YAML"),
        ("1" * 5_000, "not valid YAML"),
        ("0x" + "f" * 5_000, "a number too large"),
    ):
        text = f"partners:\n  - partner: beratung\n    name: B\n    kind: counselling\n    response_days: {value}\n"
        assert _problems(text) == [("line 5, column 20", problem)]


def test_a_huge_bogus_key_is_quoted_only_in_part() -> None:
    text = f"? {MARKER}\n: 1\npartners:\n  - partner: beratung\n    name: B\n    kind: counselling\n    ? {MARKER}\n    : 2\n"
    problems = _problems(text)
    _assert_bounded(problems)
    assert [problem for _place, problem in problems] == ["unknown entry", "unknown entry"]
    assert problems[0][0].startswith("Vorsicht-xxx")
    assert problems[1][0].startswith("partners[0].Vorsicht-xxx")
    assert MARKER not in repr(problems)


def test_wrong_values_and_control_characters_are_quoted_short_and_printable() -> None:
    text = (
        '"\\e[2J\\u202ebefehl\\nzeile": 1\n'
        "partners:\n  - partner: beratung\n    name: B\n    kind: counselling\n"
        f'    motives: ["\\e[31m{MARKER}", [[[a, b, c, d, e, f]]], {{? {MARKER} : 1}}]\n'
    )
    problems = _problems(text)
    _assert_bounded(problems)
    assert MARKER not in repr(problems)
    assert "\x1b" not in repr(problems)
    assert problems[0] == (" [2J befehl zeile", "unknown entry")
    assert [place for place, _problem in problems[1:]] == [f"partners[0].motives[{i}]" for i in range(3)]
    assert problems[1][1].startswith("unknown code '\\x1b[31mVorsicht-xxx")


def test_problems_beyond_the_first_fifty_are_counted_not_listed() -> None:
    problems = _problems("partners: [" + ", ".join(["x"] * 500) + "]\n")
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == ("file", "450 more problems not listed")
    _assert_bounded(problems)


@given(st.text() | st.integers() | st.lists(st.text(), max_size=300) | st.recursive(st.none(), st.lists))
def test_an_excerpt_is_short_and_printable(value: object) -> None:
    for shown in (excerpt(value), excerpt(value, quoted=True)):
        assert len(shown) <= EXCERPT_CHARS
        assert shown.isprintable()


# The coordinator's editor ------------------------------------------------------------------------------------


def _version_count(session: Session, town: Town) -> int:
    session.expire_all()
    return len(session.scalars(select(AgreementVersion.id).where(AgreementVersion.municipality_id == town.id)).all())


def _error_summary(page: str) -> str:
    match = re.search(r'<div class="error-summary" role="alert"[^>]*>(.*?)</div>', page, re.DOTALL)
    assert match, "no error summary on the page"
    return match.group(1)


def test_the_editor_refuses_a_billion_laughs_with_a_short_message_and_changes_nothing(
    app: Flask, session: Session, config: Config, town_a: Town
) -> None:
    coordinator = logged_in_client(app, add_person(session, config, town_a, "koordination-a", role="coordinator"))
    empty_page = coordinator.get(EDITOR).get_data(as_text=True)
    assert coordinator.post(EDITOR, data={"csrf_token": csrf_token(coordinator, EDITOR), "text": SHARED_LISTS})
    assert _version_count(session, town_a) == 1

    for text, shown in (
        (BILLION_LAUGHS, "line 9, column 12</code>: more than 10000 entries, counting what aliases repeat"),
        (_nested(5_000), "line 1, column 20</code>: nested more than 10 levels deep"),
        (EXAMPLE_AGREEMENT + "#" * YAML_BUDGET.max_bytes, "file</code>: larger than 64 kB"),
    ):
        started = time.perf_counter()
        response = coordinator.post(EDITOR, data={"csrf_token": csrf_token(coordinator, EDITOR), "text": text})
        assert time.perf_counter() - started < 2
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        summary = _error_summary(page)
        assert shown in summary
        assert len(summary) < 1_000
        # The page holds the coordinator's text to fix, and nothing expanded from it.
        assert len(page) < len(empty_page) + len(html.escape(text)) + 1_000
        assert _version_count(session, town_a) == 1


def test_the_editor_quotes_a_huge_bogus_key_only_in_part(
    app: Flask, session: Session, config: Config, town_a: Town
) -> None:
    coordinator = logged_in_client(app, add_person(session, config, town_a, "koordination-a", role="coordinator"))
    text = SHARED_LISTS.replace("    four_eyes: true\n", f"    four_eyes: true\n    ? {MARKER}\n    : 1\n")
    response = coordinator.post(EDITOR, data={"csrf_token": csrf_token(coordinator, EDITOR), "text": text})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    summary = _error_summary(page)
    assert "<code>partners[1].Vorsicht-xxx" in summary
    assert MARKER not in summary
    assert len(summary) < 1_000
    assert page.count(MARKER) == 1  # only in the text area, where the coordinator fixes it
    assert _version_count(session, town_a) == 0


# komma agreements import -------------------------------------------------------------------------------------


def _import(app: Flask, town: Town, path: Path) -> Result:
    return app.test_cli_runner().invoke(args=["agreements", "import", town.slug, str(path)])


def test_the_command_line_refuses_a_billion_laughs_and_quotes_little(
    app: Flask, session: Session, town_a: Town, tmp_path: Path
) -> None:
    files = {
        "lachen.yaml": (BILLION_LAUGHS, "line 9, column 12: more than 10000 entries, counting what aliases repeat"),
        "gross.yaml": (EXAMPLE_AGREEMENT + "#" * 10 * YAML_BUDGET.max_bytes, "file: larger than 64 kB"),
        "schluessel.yaml": (f"? {MARKER}\n: 1\n{EXAMPLE_AGREEMENT}", "Vorsicht-xxx"),
    }
    for name, (text, shown) in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        started = time.perf_counter()
        result = _import(app, town_a, path)
        assert time.perf_counter() - started < 2
        assert result.exit_code != 0, name
        assert shown in result.output
        assert "agreement refused; the active version stays active" in result.output
        assert MARKER not in result.output
        assert len(result.output) < 500
        assert _version_count(session, town_a) == 0

    good = tmp_path / "gemeinsam.yaml"
    good.write_text(SHARED_LISTS, encoding="utf-8")
    result = _import(app, town_a, good)
    assert result.exit_code == 0, result.output
    assert "(3 partners)" in result.output
    assert _version_count(session, town_a) == 1
