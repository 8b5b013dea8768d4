"""The assessment's taxonomies (DOMAIN.md "Assessment")."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

URGENCIES = {
    "acute": _l("Akut (Gefahr für Leib oder Leben)"),
    "high": _l("Hoch"),
    "normal": _l("Normal"),
    "low": _l("Niedrig"),
}

ESCALATION_LEVELS = {
    "1": _l("Stufe 1: verbale Aggression oder Sachbeschädigung"),
    "2": _l("Stufe 2: Handgreiflichkeiten oder Drohungen"),
    "3": _l("Stufe 3: bewaffneter Angriff"),
}

PHENOMENON_AREAS = {
    "right": _l("PMK -rechts-"),
    "left": _l("PMK -links-"),
    "foreign_ideology": _l("PMK -ausländische Ideologie-"),
    "religious_ideology": _l("PMK -religiöse Ideologie-"),
    "other": _l("PMK -sonstige Zuordnung-"),
}

OFFENCES = {
    "s185": _l("§ 185 StGB Beleidigung"),
    "s186": _l("§ 186 StGB Üble Nachrede"),
    "s187": _l("§ 187 StGB Verleumdung"),
    "s188": _l("§ 188 StGB gegen Personen des politischen Lebens"),
    "s126a": _l("§ 126a StGB Gefährdendes Verbreiten personenbezogener Daten"),
    "s130": _l("§ 130 StGB Volksverhetzung"),
    "s240": _l("§ 240 StGB Nötigung"),
    "s241": _l("§ 241 StGB Bedrohung"),
    "s223": _l("§ 223 StGB Körperverletzung"),
    "s238": _l("§ 238 StGB Nachstellung"),
    "s303": _l("§ 303 StGB Sachbeschädigung"),
}

# Offences prosecuted only on a criminal complaint (s.77b: within 3 months of knowledge).
COMPLAINT_OFFENCES = ("s185", "s186", "s187", "s188")
