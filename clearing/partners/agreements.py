"""Alliance agreements as data: parsing and validating YAML (or a dict), exporting, versioning.

An agreement lists, per partner organisation, which incidents it takes, which consent is
required, which fields it may receive, its response deadline, whether four eyes are needed and
whether acute danger to life may override a missing consent. Invalid input is refused whole,
with every problem named by its place ("partners[2].fields[1]") and what is wrong. The YAML is read
within a budget (clearing.partners.yaml_budget), and a message quotes at most a short excerpt of it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from clearing.codes import OFFENCES, URGENCIES
from clearing.partners.errors import AgreementInvalid
from clearing.partners.kinds import KINDS
from clearing.partners.yaml_budget import YamlBudget, YamlOverBudget, excerpt
from clearing.partners.yaml_budget import load as load_yaml
from reporting.codes import INCIDENT_TYPES, MOTIVES, PERPETRATORS
from reporting.content import CONSENTS as REPORT_CONSENTS
from reporting.content import SHARES

# The officer's assessment, shareable like a section of the report.
ASSESSMENT = "assessment"
# What a referral packet can contain, in the order a packet holds it (clearing.referrals.packet
# builds it); an agreement names a subset per partner.
SHAREABLE_FIELDS: tuple[str, ...] = (*(share.name for share in SHARES), ASSESSMENT)

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
# The example alliance is 1.5 kB, 108 nodes, five levels deep; these leave room for a
# large alliance written out in full, and for anchors on shared lists (fields: *standard).
MAX_YAML_BYTES = 64_000
YAML_BUDGET = YamlBudget(max_bytes=MAX_YAML_BYTES, max_depth=10, max_nodes=10_000, max_aliases=50)
# More problems than a person fixes in one go: the rest are counted, not listed.
MAX_PROBLEMS = 50
# How long a partner has to answer a referral where its rule does not say (clearing.referrals.states.is_overdue).
DEFAULT_RESPONSE_DAYS = 14

# The consents a partner rule may require (requires_consent); the packet sections it may name are
# clearing.referrals.packet.SHAREABLE_FIELDS.
CONSENTS = tuple(consent.name for consent in REPORT_CONSENTS if consent.for_referrals)


@dataclass(frozen=True)
class PartnerRule:
    partner: str
    name: str
    kind: str
    incident_types: tuple[str, ...] = ()  # empty: any
    motives: tuple[str, ...] = ()
    offences: tuple[str, ...] = ()
    urgencies: tuple[str, ...] = ()
    perpetrators: tuple[str, ...] = ()
    employer_duty: bool = False  # fires only when the assessment flags the employer's duty
    requires_consent: str | None = None
    fields: tuple[str, ...] = ("incident", "description")
    response_days: int = DEFAULT_RESPONSE_DAYS
    four_eyes: bool = False
    acute_override: bool = False
    notify_email: str = ""


@dataclass(frozen=True)
class AgreementSpec:
    partners: tuple[PartnerRule, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"partners": [_rule_dict(rule) for rule in self.partners]}

    def rule_for(self, partner: str) -> PartnerRule | None:
        return next((r for r in self.partners if r.partner == partner), None)


def _rule_dict(rule: PartnerRule) -> dict[str, Any]:
    data = asdict(rule)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


CODE_LISTS = {
    "incident_types": INCIDENT_TYPES,
    "motives": MOTIVES,
    "offences": OFFENCES,
    "urgencies": URGENCIES,
    "perpetrators": PERPETRATORS,
}
KNOWN_KEYS = {
    "partner",
    "name",
    "kind",
    "incident_types",
    "motives",
    "offences",
    "urgencies",
    "perpetrators",
    "employer_duty",
    "requires_consent",
    "fields",
    "response_days",
    "four_eyes",
    "acute_override",
    "notify_email",
}


def parse_yaml(text: str) -> AgreementSpec:
    try:
        data = load_yaml(text, YAML_BUDGET)
    except yaml.YAMLError as exc:
        # Never the parser's own message: it quotes the input.
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "file"
        problem = exc.problem if isinstance(exc, YamlOverBudget) and exc.problem else "not valid YAML"
        raise AgreementInvalid([(place, problem)]) from None
    return parse(data)


def parse(data: object) -> AgreementSpec:
    """Validate a whole agreement; collect every problem before refusing."""
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict) or not isinstance(data.get("partners"), list):
        raise AgreementInvalid([("partners", "a list of partner organisations is required")])
    # str(): keys of a YAML mapping may be numbers or dates, which do not sort with strings.
    unknown_top = sorted(str(key) or repr(key) for key in set(data) - {"partners", "municipality", "version"})
    for key in unknown_top:
        problems.append((excerpt(key), "unknown entry"))
    rules = []
    seen: set[str] = set()
    for index, raw in enumerate(data["partners"]):
        place = f"partners[{index}]"
        rule = _parse_rule(raw, place, problems)
        if rule is None:
            continue
        if rule.partner in seen:
            problems.append((f"{place}.partner", f"{excerpt(rule.partner, quoted=True)} appears twice"))
        seen.add(rule.partner)
        rules.append(rule)
    if not data["partners"]:
        problems.append(("partners", "at least one partner organisation is required"))
    if len(problems) > MAX_PROBLEMS:
        problems[MAX_PROBLEMS:] = [("file", f"{len(problems) - MAX_PROBLEMS} more problems not listed")]
    if problems:
        raise AgreementInvalid(problems)
    return AgreementSpec(tuple(rules))


def _parse_rule(raw: object, place: str, problems: list[tuple[str, str]]) -> PartnerRule | None:
    if not isinstance(raw, dict):
        problems.append((place, "must be a mapping with partner, name, kind ..."))
        return None
    before = len(problems)
    for key in sorted(set(map(str, raw)) - KNOWN_KEYS):
        problems.append((f"{place}.{excerpt(key)}", "unknown entry"))
    partner = raw.get("partner")
    if not isinstance(partner, str) or not KEY_RE.match(partner):
        problems.append((f"{place}.partner", "2-64 lower-case letters, digits, - or _"))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        problems.append((f"{place}.name", "a name of 1-200 characters is required"))
    kind = raw.get("kind")
    # isinstance first: a list or mapping where a code belongs is unhashable, and the code lists are dicts.
    if not isinstance(kind, str) or kind not in KINDS:
        problems.append((f"{place}.kind", f"one of {', '.join(KINDS)}"))
    values: dict[str, Any] = {}
    for key, allowed in CODE_LISTS.items():
        values[key] = _codes(raw.get(key, []), allowed, f"{place}.{key}", problems)
    values["fields"] = _codes(
        raw.get("fields", ["incident", "description"]), SHAREABLE_FIELDS, f"{place}.fields", problems
    )
    consent = raw.get("requires_consent")
    if consent is not None and (not isinstance(consent, str) or consent not in CONSENTS):
        problems.append((f"{place}.requires_consent", f"one of {', '.join(CONSENTS)}, or leave it out"))
    days = raw.get("response_days", DEFAULT_RESPONSE_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
        problems.append((f"{place}.response_days", "a whole number of days from 1 to 365"))
    for flag in ("four_eyes", "acute_override", "employer_duty"):
        if not isinstance(raw.get(flag, False), bool):
            problems.append((f"{place}.{flag}", "true or false"))
    if raw.get("acute_override") and consent != "police":
        problems.append(
            (f"{place}.acute_override", "only a police referral may override a missing consent in acute danger")
        )
    email = raw.get("notify_email", "")
    if not isinstance(email, str) or (email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email)):
        problems.append((f"{place}.notify_email", "an e-mail address, or leave it out"))
    # Each of these was recorded as a problem above when it is not a string.
    if len(problems) > before or not isinstance(partner, str) or not isinstance(name, str) or not isinstance(kind, str):
        return None
    return PartnerRule(
        partner=partner,
        name=name.strip(),
        kind=kind,
        requires_consent=consent,
        response_days=days,
        four_eyes=bool(raw.get("four_eyes", False)),
        acute_override=bool(raw.get("acute_override", False)),
        employer_duty=bool(raw.get("employer_duty", False)),
        notify_email=email,
        **values,
    )


def _codes(raw: object, allowed: Any, place: str, problems: list[tuple[str, str]]) -> tuple[str, ...]:
    if raw in (None, "any"):
        return ()
    if not isinstance(raw, list):
        problems.append((place, "a list of codes, or 'any'"))
        return ()
    result = []
    for i, code in enumerate(raw):
        if not isinstance(code, str) or code not in allowed:
            problems.append((f"{place}[{i}]", f"unknown code {excerpt(code, quoted=True)}"))
        else:
            result.append(code)
    return tuple(dict.fromkeys(result))


def to_yaml(spec: AgreementSpec, *, municipality: str = "", version: int | None = None) -> str:
    data: dict[str, Any] = {}
    if municipality:
        data["municipality"] = municipality
    if version is not None:
        data["version"] = version
    data.update(spec.to_dict())
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
