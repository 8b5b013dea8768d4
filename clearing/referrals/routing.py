"""The routing engine: assessment + consents + agreement -> recommendations. A pure function.

It never refers on its own: it recommends, names the rule and the reasons, the fields to share,
and what is blocked for lack of consent. Acute danger to life may override a missing consent
only where the agreement allows it, and then needs a second officer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clearing.partners.agreements import AgreementSpec, PartnerRule


@dataclass(frozen=True)
class RoutingFacts:
    """What the routing needs from the confirmed assessment: codes only."""

    urgency: str
    incident_types: frozenset[str]
    motives: frozenset[str]
    offences: frozenset[str]
    perpetrator: str
    employer_duty: bool


@dataclass(frozen=True)
class Reason:
    """A reason as a code with values; clearing.referrals.labels puts it into words."""

    code: str
    value: str = ""


@dataclass(frozen=True)
class Recommendation:
    partner: str
    name: str
    kind: str
    rule: str
    reasons: tuple[Reason, ...]
    fields: tuple[str, ...]
    required_consent: str | None
    blocked: bool
    blocked_reasons: tuple[Reason, ...]
    override: bool
    four_eyes: bool
    response_days: int


def _match(wanted: tuple[str, ...], have: frozenset[str], code: str) -> tuple[bool, Reason | None]:
    if not wanted:
        return True, None
    common = sorted(set(wanted) & have)
    return (True, Reason(code, ",".join(common))) if common else (False, None)


def _fires(rule: PartnerRule, facts: RoutingFacts) -> tuple[bool, list[Reason]]:
    reasons: list[Reason] = []
    checks = (
        (rule.incident_types, facts.incident_types, "incident_type"),
        (rule.motives, facts.motives, "motive"),
        (rule.offences, facts.offences, "offence"),
        (rule.urgencies, frozenset({facts.urgency}), "urgency"),
        (rule.perpetrators, frozenset({facts.perpetrator}), "perpetrator"),
    )
    for wanted, have, code in checks:
        ok, reason = _match(wanted, have, code)
        if not ok:
            return False, []
        if reason:
            reasons.append(reason)
    if rule.employer_duty:
        if not facts.employer_duty:
            return False, []
        reasons.append(Reason("employer_duty"))
    if not reasons:
        reasons.append(Reason("takes_all"))
    return True, reasons


def recommend(facts: RoutingFacts, consents: Mapping[str, bool], agreement: AgreementSpec) -> list[Recommendation]:
    """Recommendations in the agreement's order; the same input always gives the same output."""
    acute = facts.urgency == "acute"
    no_forwarding = bool(consents.get("no_forwarding"))
    result = []
    for index, rule in enumerate(agreement.partners):
        fires, reasons = _fires(rule, facts)
        if not fires:
            continue
        blocked_reasons: list[Reason] = []
        if no_forwarding:
            blocked_reasons.append(Reason("no_forwarding"))
        if rule.requires_consent and not consents.get(rule.requires_consent):
            blocked_reasons.append(Reason("consent_missing", rule.requires_consent))
        override = False
        if blocked_reasons and acute and rule.acute_override:
            # Danger to life: the agreement allows this partner to be told anyway, with four eyes.
            override = True
            reasons.append(Reason("acute_override"))
        result.append(
            Recommendation(
                partner=rule.partner,
                name=rule.name,
                kind=rule.kind,
                rule=f"partners[{index}]:{rule.partner}",
                reasons=tuple(reasons),
                fields=rule.fields,
                required_consent=rule.requires_consent,
                blocked=bool(blocked_reasons) and not override,
                blocked_reasons=tuple(blocked_reasons),
                override=override,
                four_eyes=rule.four_eyes or override,
                response_days=rule.response_days,
            )
        )
    return result
