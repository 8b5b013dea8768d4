"""Alliance agreements: the YAML schema, refusal of a whole invalid file or form, versions, export and
import, and the example alliance that `komma demo` installs."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearing.demo import DEMO_SLUG
from clearing.partners.agreements import KNOWN_KEYS, AgreementSpec, parse, parse_yaml, to_yaml
from clearing.partners.errors import AgreementInvalid
from clearing.partners.examples import EXAMPLE_AGREEMENT
from clearing.partners.models import AgreementVersion, PartnerKeyGrant, PartnerOrganisation
from clearing.partners.service import active_agreement, partner_by_key, partners_of, save_agreement
from core.accounts import account_by_login
from core.config import Config
from core.tenancy import municipality_by_slug
from tests.factories import Person, Town, add_person
from tests.web import csrf_token, logged_in_client, staff_csrf

VALID = """\
partners:
  - partner: beratung
    name: Beratungsstelle
    kind: counselling
    requires_consent: counselling
  - partner: polizei
    name: Polizei
    kind: police
    incident_types: [threat, insult_defamation]
    requires_consent: police
    four_eyes: true
    acute_override: true
"""


def _with(extra_first: str = "", extra_second: str = "") -> str:
    """VALID with lines added to the first or second partner."""
    first, second = VALID.split("  - partner: polizei\n")
    return first + extra_first + "  - partner: polizei\n" + second + extra_second


INVALID: dict[str, tuple[str, str, str]] = {
    # name: (file, place, what the message says)
    "unknown kind": (
        VALID.replace("kind: counselling", "kind: church"),
        "partners[0].kind",
        "one of counselling, antidiscrimination, police",
    ),
    "kind as a list": (
        VALID.replace("kind: counselling", "kind: [counselling]"),
        "partners[0].kind",
        "one of counselling",
    ),
    "unknown incident type at index 2": (
        VALID.replace("[threat, insult_defamation]", "[threat, insult_defamation, shouting]"),
        "partners[1].incident_types[2]",
        "unknown code 'shouting'",
    ),
    "unknown motive": (_with("    motives: [racism, weather]\n"), "partners[0].motives[1]", "unknown code 'weather'"),
    "a list inside a code list": (
        _with("    motives: [[racism]]\n"),
        "partners[0].motives[0]",
        "unknown code ['racism']",
    ),
    "unknown offence": (_with("", "    offences: [s999]\n"), "partners[1].offences[0]", "unknown code 's999'"),
    "unknown urgency": (_with("    urgencies: [urgent]\n"), "partners[0].urgencies[0]", "unknown code 'urgent'"),
    "unknown field": (_with("    fields: [description, diary]\n"), "partners[0].fields[1]", "unknown code 'diary'"),
    "codes not a list": (_with("    motives: racism\n"), "partners[0].motives", "a list of codes, or 'any'"),
    "response days zero": (
        _with("    response_days: 0\n"),
        "partners[0].response_days",
        "a whole number of days from 1 to 365",
    ),
    "response days too many": (
        _with("    response_days: 366\n"),
        "partners[0].response_days",
        "a whole number of days from 1 to 365",
    ),
    "response days in words": (
        _with("    response_days: fünf\n"),
        "partners[0].response_days",
        "a whole number of days from 1 to 365",
    ),
    "response days a fraction": (
        _with("    response_days: 2.5\n"),
        "partners[0].response_days",
        "a whole number of days from 1 to 365",
    ),
    "response days yes": (
        _with("    response_days: true\n"),
        "partners[0].response_days",
        "a whole number of days from 1 to 365",
    ),
    "acute override for counselling": (
        _with("    acute_override: true\n"),
        "partners[0].acute_override",
        "only a police referral may override",
    ),
    "acute override for police without police consent": (
        VALID.replace("requires_consent: police", "requires_consent: counselling"),
        "partners[1].acute_override",
        "only a police referral may override",
    ),
    "four eyes not a flag": (_with("    four_eyes: maybe\n"), "partners[0].four_eyes", "true or false"),
    "duplicate partner": (
        VALID.replace("partner: polizei", "partner: beratung"),
        "partners[1].partner",
        "'beratung' appears twice",
    ),
    "bad partner key": (
        VALID.replace("partner: polizei", "partner: Polizei Präsidium"),
        "partners[1].partner",
        "2-64 lower-case letters",
    ),
    "no name": (VALID.replace("    name: Polizei\n", ""), "partners[1].name", "a name of 1-200 characters is required"),
    "unknown consent": (
        VALID.replace("requires_consent: counselling", "requires_consent: statistics"),
        "partners[0].requires_consent",
        "one of counselling, police, employer, prosecutor",
    ),
    "unknown entry in a partner": (_with("    colour: red\n"), "partners[0].colour", "unknown entry"),
    "unknown top-level entries": ("1: one\nnotes: x\n" + VALID, "1", "unknown entry"),
    "bad notification address": (
        _with("    notify_email: not-an-address\n"),
        "partners[0].notify_email",
        "an e-mail address",
    ),
    "partner not a mapping": (VALID + "  - just a line\n", "partners[2]", "must be a mapping"),
    "missing partners": ("version: 3\n", "partners", "a list of partner organisations is required"),
    "partners not a list": (
        "partners: {beratung: counselling}\n",
        "partners",
        "a list of partner organisations is required",
    ),
    "no partners": ("partners: []\n", "partners", "at least one partner organisation is required"),
    "empty file": ("", "partners", "a list of partner organisations is required"),
}
NOT_YAML = "partners:\n  - partner: beratung\n    name: [Beratung\n    kind: counselling\n"
LINE_COLUMN = re.compile(r"^line \d+, column \d+$")


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(AgreementInvalid) as refused:
        parse_yaml(text)
    return refused.value.problems


# The schema ---------------------------------------------------------------------------------------------


def test_the_example_alliance_is_valid() -> None:
    spec = parse_yaml(EXAMPLE_AGREEMENT)
    assert [(r.partner, r.kind) for r in spec.partners] == [
        ("opferberatung", "counselling"),
        ("polizei-staatsschutz", "police"),
        ("personalamt", "employer"),
        ("antidiskriminierung", "antidiscrimination"),
    ]
    police = spec.rule_for("polizei-staatsschutz")
    assert police is not None
    assert (police.requires_consent, police.four_eyes, police.acute_override, police.response_days) == (
        "police",
        True,
        True,
        3,
    )
    anti = spec.rule_for("antidiskriminierung")
    assert anti is not None
    assert anti.fields == ("incident", "description", "affected_role")


def test_valid_file_with_defaults() -> None:
    spec = parse_yaml(VALID)
    counselling = spec.rule_for("beratung")
    assert counselling is not None
    assert (counselling.fields, counselling.response_days, counselling.incident_types, counselling.four_eyes) == (
        ("incident", "description"),
        14,
        (),
        False,
    )


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_file_is_refused_naming_place_and_problem(name: str) -> None:
    text, place, problem = INVALID[name]
    problems = _problems(text)
    assert any(p == place and problem in message for p, message in problems), problems


def test_not_yaml_names_line_and_column() -> None:
    ((place, problem),) = _problems(NOT_YAML)
    assert LINE_COLUMN.match(place), place
    assert problem == "not valid YAML"


def test_every_problem_is_named_at_once() -> None:
    text = (
        VALID.replace("kind: counselling", "kind: church").replace("insult_defamation]", "insult_defamation, shouting]")
        + "    response_days: 0\n"
    )
    places = [place for place, _problem in _problems(text)]
    assert places == ["partners[0].kind", "partners[1].incident_types[2]", "partners[1].response_days"]


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=3),
    max_leaves=8,
)
rule_like = st.dictionaries(
    st.sampled_from(sorted(KNOWN_KEYS)) | st.text(max_size=5),
    json_like | st.sampled_from(["police", "counselling", "threat"]),
    max_size=8,
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.dictionaries(
        st.sampled_from(["partners", "version", "municipality"]) | st.integers() | st.text(max_size=4),
        st.lists(rule_like, max_size=3) | json_like,
        max_size=4,
    )
)
def test_any_data_is_either_a_valid_agreement_or_refused_with_places(data: dict[Any, Any]) -> None:
    """Whatever a file holds, parsing gives an agreement or named problems, never a crash."""
    outcome = _parse_or_problems(data)
    if isinstance(outcome, AgreementSpec):
        assert parse(outcome.to_dict()) == outcome
    else:
        assert outcome
        assert all(
            isinstance(place, str) and place and isinstance(problem, str) and problem for place, problem in outcome
        )


def _parse_or_problems(data: object) -> AgreementSpec | list[tuple[str, str]]:
    try:
        return parse(data)
    except AgreementInvalid as refused:
        return refused.problems


# Import, export and versions through the command line ----------------------------------------------------


def _versions(session: Session, town_id: str) -> list[tuple[int, bool]]:
    session.expire_all()
    return [
        (version, active)
        for version, active in session.execute(
            select(AgreementVersion.version, AgreementVersion.active)
            .where(AgreementVersion.municipality_id == town_id)
            .order_by(AgreementVersion.version)
        )
    ]  # type: ignore[misc]


def _import(app: Flask, slug: str, path: Path) -> Any:
    return app.test_cli_runner().invoke(args=["agreements", "import", slug, str(path)])


def test_cli_import_refuses_an_invalid_file_whole(app: Flask, session: Session, town_a: Town, tmp_path: Path) -> None:
    first = tmp_path / "erste.yaml"
    first.write_text(EXAMPLE_AGREEMENT, encoding="utf-8")
    result = _import(app, town_a.slug, first)
    assert result.exit_code == 0, result.output
    assert "agreement version 1 of astadt is active (4 partners)" in result.output
    active = active_agreement(session, town_a.id)
    assert active is not None
    before_data = active.data
    organisations = {p.key for p in partners_of(session, town_a.id)}

    # A new, valid partner next to an invalid one: nothing of the file is taken.
    bad = tmp_path / "falsch.yaml"
    bad.write_text(
        VALID.replace("partner: beratung", "partner: neue-stelle")
        .replace("insult_defamation]", "insult_defamation, shouting]")
        .replace("kind: police", "kind: polizei"),
        encoding="utf-8",
    )
    result = _import(app, town_a.slug, bad)
    assert result.exit_code != 0
    assert "partners[1].incident_types[2]: unknown code 'shouting'" in result.output
    assert "partners[1].kind: one of" in result.output
    assert "the active version stays active" in result.output
    assert _versions(session, town_a.id) == [(1, True)]
    active = active_agreement(session, town_a.id)
    assert active is not None
    assert active.data == before_data
    assert {p.key for p in partners_of(session, town_a.id)} == organisations

    not_yaml = tmp_path / "kaputt.yaml"
    not_yaml.write_text(NOT_YAML, encoding="utf-8")
    result = _import(app, town_a.slug, not_yaml)
    assert result.exit_code != 0
    assert re.search(r"line \d+, column \d+: not valid YAML", result.output)
    assert _versions(session, town_a.id) == [(1, True)]

    result = _import(app, "nirgendwo", first)
    assert result.exit_code != 0
    assert "no municipality 'nirgendwo'" in result.output


def test_export_import_round_trip_gives_an_equal_agreement_and_a_new_version(
    app: Flask, session: Session, town_a: Town, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["agreements", "export", town_a.slug]).exit_code != 0  # nothing to export yet
    source = tmp_path / "beispiel.yaml"
    source.write_text(EXAMPLE_AGREEMENT, encoding="utf-8")
    assert _import(app, town_a.slug, source).exit_code == 0

    exported = runner.invoke(args=["agreements", "export", town_a.slug])
    assert exported.exit_code == 0, exported.output
    assert exported.output.startswith("municipality: astadt\nversion: 1\n")
    assert parse_yaml(exported.output) == parse_yaml(EXAMPLE_AGREEMENT)

    again = tmp_path / "export.yaml"
    again.write_text(exported.output, encoding="utf-8")
    assert _import(app, town_a.slug, again).exit_code == 0
    assert _versions(session, town_a.id) == [(1, False), (2, True)]
    v1, v2 = session.scalars(
        select(AgreementVersion).where(AgreementVersion.municipality_id == town_a.id).order_by(AgreementVersion.version)
    )
    assert parse(v2.data) == parse(v1.data)
    second_export = runner.invoke(args=["agreements", "export", town_a.slug]).output
    assert second_export == exported.output.replace("version: 1\n", "version: 2\n", 1)
    # The same organisations, not new ones (their keys stay).
    assert (
        session.scalar(
            select(func.count())
            .select_from(PartnerOrganisation)
            .where(PartnerOrganisation.municipality_id == town_a.id)
        )
        == 4
    )


def test_to_yaml_keeps_every_setting() -> None:
    spec = parse_yaml(
        VALID.replace(
            "    four_eyes: true\n",
            "    four_eyes: true\n    response_days: 2\n    notify_email: staatsschutz@polizei.example\n    perpetrators: [organised_group]\n",
        )
    )
    assert parse_yaml(to_yaml(spec, municipality="astadt", version=7)) == spec


def test_versions_increment_and_only_the_newest_is_active(session: Session, town_a: Town) -> None:
    spec = parse_yaml(VALID)
    for expected in (1, 2, 3):
        assert save_agreement(session, town_a.id, spec, actor_id=None, actor_role="cli").version == expected
    session.commit()
    assert _versions(session, town_a.id) == [(1, False), (2, False), (3, True)]


# The coordinator's form ------------------------------------------------------------------------------------


def test_web_form_refuses_invalid_agreements_whole_and_names_the_places(
    app: Flask, session: Session, config: Config, town_a: Town
) -> None:
    coordinator = logged_in_client(app, add_person(session, config, town_a, "koordination-a", role="coordinator"))
    page = coordinator.get("/verwaltung/vereinbarungen").get_data(as_text=True)
    assert "Es ist noch keine Vereinbarung aktiv" in page
    assert html.escape("partner: opferberatung", quote=False) in page  # the example as a starting point

    path = "/verwaltung/vereinbarungen"
    response = coordinator.post(path, data={"csrf_token": csrf_token(coordinator, path), "text": VALID})
    assert response.status_code == 303
    assert "Version 1 der Vereinbarung ist jetzt aktiv." in coordinator.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert _versions(session, town_a.id) == [(1, True)]

    for text, places in (
        (
            INVALID["unknown incident type at index 2"][0] + "    response_days: 0\n",
            ["partners[1].incident_types[2]", "partners[1].response_days"],
        ),
        (INVALID["duplicate partner"][0], ["partners[1].partner"]),
        (INVALID["acute override for counselling"][0], ["partners[0].acute_override"]),
        (INVALID["missing partners"][0], ["partners"]),
        (INVALID["kind as a list"][0], ["partners[0].kind"]),
        (INVALID["unknown top-level entries"][0], ["1", "notes"]),
    ):
        response = coordinator.post(path, data={"csrf_token": csrf_token(coordinator, path), "text": text})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Die Vereinbarung wurde nicht übernommen" in page
        assert "Die bisherige Version bleibt aktiv." in page
        assert re.findall(r"<li><a href=\"#[^\"]+\"><code>([^<]*)</code>", page) == places
        assert html.escape(text.splitlines()[0], quote=False) in page  # the text stays in the form to be fixed
        assert _versions(session, town_a.id) == [(1, True)]

    response = coordinator.post(path, data={"csrf_token": csrf_token(coordinator, path), "text": NOT_YAML})
    assert re.search(r"<code>line \d+, column \d+</code>: not valid YAML", response.get_data(as_text=True))
    assert _versions(session, town_a.id) == [(1, True)]

    response = coordinator.post(
        path,
        data={
            "csrf_token": csrf_token(coordinator, path),
            "text": VALID.replace("response_days", "x") + "    response_days: 30\n",
        },
    )
    assert response.status_code == 303
    assert _versions(session, town_a.id) == [(1, False), (2, True)]
    active = active_agreement(session, town_a.id)
    assert active is not None
    police = parse(active.data).rule_for("polizei")
    assert police is not None
    assert police.response_days == 30


def test_only_the_coordinator_edits_agreements(
    app: Flask, session: Session, config: Config, town_a: Town, officer_a: Person
) -> None:
    officer = logged_in_client(app, officer_a)
    path = "/verwaltung/vereinbarungen"
    assert officer.get(path).status_code == 404
    assert officer.post(path, data={"csrf_token": staff_csrf(officer), "text": VALID}).status_code == 404
    assert _versions(session, town_a.id) == []


# The demo -------------------------------------------------------------------------------------------------------


def test_demo_installs_the_example_alliance(app: Flask, session: Session) -> None:
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    municipality = municipality_by_slug(session, DEMO_SLUG)
    assert municipality is not None
    active = active_agreement(session, municipality.id)
    assert active is not None
    assert active.version == 1
    assert parse(active.data) == parse_yaml(EXAMPLE_AGREEMENT)
    kinds = {p.key: p.kind for p in partners_of(session, municipality.id)}
    assert kinds == {
        "opferberatung": "counselling",
        "polizei-staatsschutz": "police",
        "personalamt": "employer",
        "antidiskriminierung": "antidiscrimination",
    }
    names = " ".join(p.name for p in partners_of(session, municipality.id))
    for word in ("Opferberatung", "Staatsschutz", "Personalamt", "Antidiskriminierungsstelle"):
        assert word in names
    # The counselling centre's demo user holds its organisation key and can use the portal.
    demo_partner = account_by_login(session, "demo-beratung")
    counselling = partner_by_key(session, municipality.id, "opferberatung")
    assert demo_partner is not None
    assert counselling is not None
    assert demo_partner.partner_id == counselling.id
    assert (
        session.scalar(select(PartnerKeyGrant.account_id).where(PartnerKeyGrant.partner_id == counselling.id))
        == demo_partner.id
    )
    assert "demo-beratung" in result.output

    # Idempotent: a second run adds no version.
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    assert _versions(session, municipality.id) == [(1, True)]
