"""Partner kinds: every kind an agreement may name, and all its words. A new kind is one entry here.

The code is stored (partner organisations, statistics, the case timeline); the words are looked up
when shown, in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class PartnerKind:
    # The category, for staff and in statistics: "Beratungsstelle".
    name: str
    # How the reporter's mailbox completes "Weitergeleitet an: ...": "eine Beratungsstelle".
    for_reporter: str


KINDS: Final[Mapping[str, PartnerKind]] = {
    "counselling": PartnerKind(_l("Beratungsstelle"), _l("eine Beratungsstelle")),
    "antidiscrimination": PartnerKind(_l("Antidiskriminierungsstelle"), _l("eine Antidiskriminierungsstelle")),
    "police": PartnerKind(_l("Polizei"), _l("die Polizei")),
    "prosecutor": PartnerKind(_l("Staatsanwaltschaft"), _l("die Staatsanwaltschaft")),
    "employer": PartnerKind(_l("Arbeitgeber (Personalamt)"), _l("das Personalamt Ihres Arbeitgebers")),
    "staff_council": PartnerKind(_l("Personalrat"), _l("den Personalrat")),
    "legal_office": PartnerKind(_l("Rechtsamt"), _l("das Rechtsamt")),
    "psychosocial": PartnerKind(_l("Psychosoziale Beratung"), _l("eine psychosoziale Beratung")),
    "other": PartnerKind(_l("Andere Partnerorganisation"), _l("eine Partnerorganisation")),
}

# The category names by code, as the statistics' and the case page's label tables take them.
NAMES: Final[Mapping[str, str]] = {code: kind.name for code, kind in KINDS.items()}


def _kind(code: str | None) -> PartnerKind:
    return KINDS.get(code or "", KINDS["other"])


def name_of(code: str | None) -> str:
    """The category of a kind; an unknown code reads as "other"."""
    return str(_kind(code).name)


def for_reporter(code: str) -> str:
    """The words after "Weitergeleitet an:" in the reporter's timeline; an unknown code reads as "other"."""
    return str(_kind(code).for_reporter)
