"""The routing engine: properties over random facts, consents and agreements, and the example alliance.

Agreements are generated as the data a coordinator writes (over the real code lists) and go
through the same validation as an imported file, so every generated agreement is one the product
could hold.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearing.codes import OFFENCES, URGENCIES
from clearing.partners.agreements import CONSENTS, SHAREABLE_FIELDS, AgreementSpec, parse, parse_yaml
from clearing.partners.examples import EXAMPLE_AGREEMENT
from clearing.partners.kinds import KINDS
from clearing.referrals.labels import describe
from clearing.referrals.routing import Reason, Recommendation, RoutingFacts, recommend
from reporting.codes import INCIDENT_TYPES, MOTIVES, PERPETRATORS
from reporting.content import CONSENT_NAMES

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Real consents a reporter can withdraw (statistics never gates a referral, but withdrawing it must not add one either).
WITHDRAWABLE = tuple(c for c in CONSENT_NAMES if c != "no_forwarding")


def _subset(codes: Any) -> st.SearchStrategy[list[str]]:
    # Often empty ("any"), so that rules fire and the consent logic gets exercised.
    return st.just([]) | st.lists(st.sampled_from(sorted(codes)), min_size=1, max_size=3, unique=True)


CODE_LIST_STRATEGIES = {
    "incident_types": _subset(INCIDENT_TYPES),
    "motives": _subset(MOTIVES),
    "offences": _subset(OFFENCES),
    "urgencies": _subset(URGENCIES),
    "perpetrators": _subset(PERPETRATORS),
}
KIND_CODES = st.sampled_from(sorted(KINDS))
FIELDS = st.lists(st.sampled_from(SHAREABLE_FIELDS), min_size=1, unique=True)


@st.composite
def partner_rules(draw: st.DrawFn, key: str) -> dict[str, Any]:
    consent = draw(st.none() | st.sampled_from(CONSENTS))
    rule: dict[str, Any] = {
        "partner": key,
        "name": f"Partner {key}",
        "kind": draw(KIND_CODES),
        **{name: draw(strategy) for name, strategy in CODE_LIST_STRATEGIES.items()},
        "employer_duty": draw(st.booleans()),
        "fields": draw(FIELDS),
        "response_days": draw(st.integers(1, 365)),
        "four_eyes": draw(st.booleans()),
        # The agreement allows the override only for a police referral (the validation refuses the rest).
        "acute_override": consent == "police" and draw(st.booleans()),
    }
    if consent is not None:
        rule["requires_consent"] = consent
    return rule


@st.composite
def agreements(draw: st.DrawFn) -> AgreementSpec:
    keys = draw(
        st.lists(
            st.sampled_from(["beratung", "polizei", "personal", "adst", "staatsanwalt", "rat"]),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    return parse({"partners": [draw(partner_rules(key)) for key in keys]})


def _frozen(codes: Any, max_size: int = 4) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(sorted(codes)), max_size=max_size)


facts_strategy = st.builds(
    RoutingFacts,
    urgency=st.sampled_from(sorted(URGENCIES)),
    incident_types=_frozen(INCIDENT_TYPES),
    motives=_frozen(MOTIVES),
    offences=_frozen(OFFENCES),
    perpetrator=st.sampled_from(sorted(PERPETRATORS)),
    employer_duty=st.booleans(),
)
consents_strategy = st.fixed_dictionaries({name: st.booleans() for name in CONSENT_NAMES})


def _unblocked(recs: list[Recommendation]) -> set[str]:
    return {r.partner for r in recs if not r.blocked}


def _fires(rule: Any, facts: RoutingFacts) -> bool:
    """The agreement's matching written out once more, independently of the engine."""
    return (
        (not rule.incident_types or bool(set(rule.incident_types) & facts.incident_types))
        and (not rule.motives or bool(set(rule.motives) & facts.motives))
        and (not rule.offences or bool(set(rule.offences) & facts.offences))
        and (not rule.urgencies or facts.urgency in rule.urgencies)
        and (not rule.perpetrators or facts.perpetrator in rule.perpetrators)
        and (not rule.employer_duty or facts.employer_duty)
    )


@PROPERTY_SETTINGS
@given(facts=facts_strategy, consents=consents_strategy, agreement=agreements())
def test_nothing_unblocked_without_consent_unless_an_acute_override_fired(
    facts: RoutingFacts, consents: dict[str, bool], agreement: AgreementSpec
) -> None:
    recs = recommend(facts, consents, agreement)
    assert [r.partner for r in recs] == [rule.partner for rule in agreement.partners if _fires(rule, facts)]
    for rec in recs:
        rule = agreement.rule_for(rec.partner)
        assert rule is not None
        assert (rec.fields, rec.required_consent, rec.response_days, rec.kind) == (
            rule.fields,
            rule.requires_consent,
            rule.response_days,
            rule.kind,
        )
        missing = rule.requires_consent is not None and not consents[rule.requires_consent]
        held_back = missing or consents["no_forwarding"]
        if rec.override:
            assert facts.urgency == "acute"
            assert rule.acute_override
            assert held_back, "an override without anything to override"
            assert rec.four_eyes, "an override always needs a second officer"
            assert not rec.blocked
            assert Reason("acute_override") in rec.reasons
        if held_back and not rec.override:
            assert rec.blocked
        if missing:
            assert Reason("consent_missing", rule.requires_consent or "") in rec.blocked_reasons
        if not rec.blocked:
            assert not missing or rec.override
        if rule.four_eyes:
            assert rec.four_eyes
        assert rec.reasons, "every recommendation says why"


@PROPERTY_SETTINGS
@given(facts=facts_strategy, consents=consents_strategy, agreement=agreements())
def test_no_forwarding_blocks_everything_except_acute_overrides(
    facts: RoutingFacts, consents: dict[str, bool], agreement: AgreementSpec
) -> None:
    recs = recommend(facts, {**consents, "no_forwarding": True}, agreement)
    for rec in recs:
        assert Reason("no_forwarding") in rec.blocked_reasons
        if rec.blocked:
            assert not rec.override
        else:
            assert rec.override
            assert facts.urgency == "acute"
            assert rec.four_eyes


@PROPERTY_SETTINGS
@given(facts=facts_strategy, consents=consents_strategy, agreement=agreements(), data=st.data())
def test_the_result_is_deterministic(
    facts: RoutingFacts, consents: dict[str, bool], agreement: AgreementSpec, data: st.DataObject
) -> None:
    first = recommend(facts, consents, agreement)
    assert recommend(facts, consents, agreement) == first
    shuffled = dict(data.draw(st.permutations(list(consents.items()))))
    assert recommend(facts, shuffled, agreement) == first
    # The same agreement after a round trip through its stored form.
    assert recommend(facts, consents, parse(agreement.to_dict())) == first
    # The same facts built from sets in another order.
    rebuilt = RoutingFacts(
        facts.urgency,
        frozenset(sorted(facts.incident_types, reverse=True)),
        frozenset(sorted(facts.motives, reverse=True)),
        frozenset(sorted(facts.offences, reverse=True)),
        facts.perpetrator,
        facts.employer_duty,
    )
    assert recommend(rebuilt, consents, agreement) == first


@PROPERTY_SETTINGS
@given(facts=facts_strategy, consents=consents_strategy, agreement=agreements(), data=st.data())
def test_withdrawing_a_consent_never_adds_or_unblocks_a_recommendation(
    facts: RoutingFacts, consents: dict[str, bool], agreement: AgreementSpec, data: st.DataObject
) -> None:
    before = recommend(facts, consents, agreement)
    given_now = [name for name in WITHDRAWABLE if consents[name]]
    # Withdraw one or more consents, or ask for no forwarding at all.
    changes = data.draw(st.lists(st.sampled_from(given_now), min_size=1, unique=True) if given_now else st.just([]))
    after_consents = {**consents, **dict.fromkeys(changes, False)}
    if data.draw(st.booleans()) or not changes:
        after_consents["no_forwarding"] = True
    after = recommend(facts, after_consents, agreement)
    assert {r.partner for r in after} <= {r.partner for r in before}
    assert _unblocked(after) <= _unblocked(before)
    blocked_before = {r.partner for r in before if r.blocked}
    assert blocked_before <= {r.partner for r in after if r.blocked}
    # What stays open after a withdrawal is open only by an override (or did not need that consent).
    for rec in after:
        if not rec.blocked and rec.partner in {r.partner for r in before if not r.override}:
            needed = rec.required_consent
            assert rec.override or ((needed is None or after_consents[needed]) and not after_consents["no_forwarding"])


@PROPERTY_SETTINGS
@given(facts=facts_strategy, consents=consents_strategy, agreement=agreements())
def test_giving_every_consent_unblocks_everything_that_fires(
    facts: RoutingFacts, consents: dict[str, bool], agreement: AgreementSpec
) -> None:
    everything = {**dict.fromkeys(CONSENT_NAMES, True), "no_forwarding": False}
    recs = recommend(facts, everything, agreement)
    assert all(not r.blocked and not r.override and not r.blocked_reasons for r in recs)


# The example alliance ---------------------------------------------------------------------------------

EXAMPLE = parse_yaml(EXAMPLE_AGREEMENT)


def _facts(
    urgency: str = "normal", *, employer_duty: bool = True, types: tuple[str, ...] = ("insult_defamation",)
) -> RoutingFacts:
    return RoutingFacts(urgency, frozenset(types), frozenset({"racism"}), frozenset({"s185"}), "citizen", employer_duty)


def _by_partner(recs: list[Recommendation]) -> dict[str, Recommendation]:
    return {r.partner: r for r in recs}


def test_example_counselling_and_employer_consent_without_police() -> None:
    consents = {**dict.fromkeys(CONSENT_NAMES, False), "counselling": True, "employer": True}
    recs = _by_partner(recommend(_facts(), consents, EXAMPLE))
    assert list(recs) == ["opferberatung", "polizei-staatsschutz", "personalamt", "antidiskriminierung"]
    assert not recs["opferberatung"].blocked
    assert not recs["personalamt"].blocked
    assert Reason("employer_duty") in recs["personalamt"].reasons
    assert not recs["antidiskriminierung"].blocked
    police = recs["polizei-staatsschutz"]
    assert police.blocked
    assert not police.override
    assert police.blocked_reasons == (Reason("consent_missing", "police"),)
    assert Reason("incident_type", "insult_defamation") in police.reasons
    assert police.four_eyes  # the agreement asks for four eyes for every police referral


def test_example_without_employer_duty_the_personnel_office_is_not_recommended() -> None:
    consents = {**dict.fromkeys(CONSENT_NAMES, False), "counselling": True, "employer": True}
    assert "personalamt" not in _by_partner(recommend(_facts(employer_duty=False), consents, EXAMPLE))


def test_example_acute_danger_without_police_consent_overrides_with_four_eyes() -> None:
    consents = {**dict.fromkeys(CONSENT_NAMES, False), "counselling": True}
    recs = _by_partner(recommend(_facts("acute", types=("threat",)), consents, EXAMPLE))
    police = recs["polizei-staatsschutz"]
    assert not police.blocked
    assert police.override
    assert police.four_eyes
    assert police.blocked_reasons == (Reason("consent_missing", "police"),)
    assert Reason("acute_override") in police.reasons
    # The override is the police's alone: the personnel office still needs the employer consent.
    assert recs["personalamt"].blocked
    assert not recs["personalamt"].override


def test_example_acute_with_police_consent_needs_no_override() -> None:
    consents = {**dict.fromkeys(CONSENT_NAMES, False), "police": True}
    police = _by_partner(recommend(_facts("acute"), consents, EXAMPLE))["polizei-staatsschutz"]
    assert (police.blocked, police.override, police.four_eyes) == (False, False, True)


def test_an_override_needs_four_eyes_even_where_the_agreement_does_not_ask_for_them() -> None:
    agreement = parse(
        {
            "partners": [
                {
                    "partner": "polizei",
                    "name": "Polizei",
                    "kind": "police",
                    "requires_consent": "police",
                    "acute_override": True,
                    "four_eyes": False,
                }
            ]
        }
    )
    no_consent = dict.fromkeys(CONSENT_NAMES, False)
    (acute,) = recommend(_facts("acute"), no_consent, agreement)
    assert (acute.blocked, acute.override, acute.four_eyes) == (False, True, True)
    (normal,) = recommend(_facts("high"), no_consent, agreement)
    assert (normal.blocked, normal.override, normal.four_eyes) == (True, False, False)
    (consented,) = recommend(_facts("acute"), {**no_consent, "police": True}, agreement)
    assert (consented.blocked, consented.override, consented.four_eyes) == (False, False, False)


def test_reasons_in_plain_german(app: Flask) -> None:
    with app.test_request_context():
        assert describe(Reason("consent_missing", "police")) == "Es fehlt die Einwilligung: Weitergabe an die Polizei."
        assert describe(Reason("no_forwarding")) == "Die meldende Person wünscht keine Weitergabe."
        assert "Akute Gefahr für Leib oder Leben" in describe(Reason("acute_override"))
        assert (
            describe(Reason("motive", "racism,antisemitism")) == "Zuständig für dieses Motiv: Rassismus, Antisemitismus"
        )
