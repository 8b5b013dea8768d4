"""Referral preview and partner page speak in words: labels from the report form, no codes, one shared reference."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from clearing.referrals.packet import packet_sections
from clearing.referrals.service import referral_reference
from core.config import Config
from tests.factories import Alliance, build_alliance, referral_to
from tests.web import flashes, logged_in_client, officer_path, refer, submit_report_form

PACKET = {
    "incident": {
        "incident_types": ["threat", "hate_speech"],
        "motives": ["racism"],
        "incident_date": "2026-10-12",
        "incident_month": "2026-10",
        "incident_time": "14:30",
        "ongoing": False,
        "channel": "social_media",
        "platform": "",
    },
    "description": "Zeile eins\nZeile zwei",
    "urls": ["https://example.org/a"],
    "affected_role": "mayor",
    "already_done": {"police": True, "supervisor": False, "counselling": False},
    "perpetrator": {"context": "citizen", "description": None},
    "contact": {"contact": "mailbox", "contact_email": None, "contact_phone": None},
    "assessment": {"urgency": "high", "escalation_level": 2, "offences": ["s241"], "complaint_deadline": "2027-01-12"},
}
CODES = ("threat", "hate_speech", "racism", "social_media", "mayor", "citizen", "mailbox", "s241", "True", "False")
RADIO_RE = re.compile(
    r'<input type="radio" id="([^"]+)"[^>]* name="state" value="([^"]*)"[^>]*>\s*<label for="\1">([^<]*)</label>'
)


@pytest.fixture
def alliance(session: Session, config: Config) -> Alliance:
    return build_alliance(session, config, "wortstadt", "Wortstadt")


def _flat(app: Flask, packet: dict[str, object]) -> str:
    with app.test_request_context():
        return " | ".join(
            f"{s.title}: " + "; ".join(f"{i.label}={i.text}{'+'.join(i.lines)}" for i in s.items)
            for s in packet_sections(packet)
        )


def test_the_packet_is_put_into_words_from_the_report_form(app: Flask) -> None:
    text = _flat(app, PACKET)
    for words in (
        "Was ist passiert?=Bedrohung, Hassrede oder Hetze",
        "Was war aus Ihrer Sicht der Grund?=Rassismus",
        "Datum des Vorfalls=12.10.2026",
        "Es dauert noch an=Nein",
        "Wo ist es passiert?=In sozialen Medien",
        "Plattform (z. B. Name des Netzwerks)=–",
        "Rolle der betroffenen Person: None=Bürgermeisterin oder Bürgermeister",
        "Ich habe bereits Anzeige bei der Polizei erstattet=Ja",
        "Ich habe meine Vorgesetzten informiert=Nein",
        "Wer hat es getan?=Bürgerin oder Bürger",
        "Wie dürfen wir Sie erreichen?=Nur über das Postfach",
        "Eskalationsstufe (Aachener Modell)=Stufe 2",
        "Mögliche Straftaten=§ 241 StGB Bedrohung",
        "Strafantragsfrist (§ 77b StGB)=12.01.2027",
        "Links: None=https://example.org/a",
    ):
        assert words in text, words
    # The month is said once, by the date; no code and no Python value reaches the reader.
    assert "Ungefährer Monat" not in text
    for code in CODES:
        assert not re.search(rf"=\S*\b{re.escape(code)}\b", text.replace("https://example.org/a", "")), code
    # Only a month known: said as a month.
    month_only = {"incident": {**PACKET["incident"], "incident_date": None}}  # type: ignore[dict-item]
    assert "Ungefährer Monat (JJJJ-MM)=Oktober 2026" in _flat(app, month_only)


def test_preview_and_partner_page_show_words_and_one_shared_reference(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    reported = submit_report_form(app, session, alliance.town)
    officer = officer_path(app, alliance, reported.case_id)
    preview = officer.get(f"/clearing/fall/{reported.case_id}/weiterleiten/opferberatung").get_data(as_text=True)
    preview_text = flashes(preview)
    assert "Beleidigung oder Verleumdung" in preview_text
    assert "Was ist passiert?" in preview_text
    assert "Es dauert noch an: Nein" in preview_text
    for absent in ("incident_types", "insult_defamation", "partners[", "Regel", "False", "True"):
        assert absent not in preview, absent

    assert refer(officer, reported.case_id, "opferberatung").status_code == 303
    referral = referral_to(session, reported.case_id, alliance.partner_ids["opferberatung"])
    reference = referral_reference(referral.id)
    assert re.fullmatch(r"W-[0-9A-F]{4}-[0-9A-F]{4}", reference)
    case_page = officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    assert f"Weiterleitung {reference}" in case_page
    assert "partners[" not in case_page

    partner = logged_in_client(app, alliance.partners["opferberatung"])
    assert f"Weiterleitung {reference}" in partner.get("/partner/").get_data(as_text=True)
    page = partner.get(f"/partner/weiterleitung/{referral.id}").get_data(as_text=True)
    assert f"Weiterleitung {reference}" in page
    page_text = flashes(page)
    assert "Beleidigung oder Verleumdung" in page_text
    assert html.escape("Wer hat es getan? Bürgerin oder Bürger", quote=False) in page_text
    for absent in ("incident_types", "insult_defamation", "citizen", "False", "True"):
        assert absent not in page, absent

    # The next steps are real radios: a value and a label each (the bug this guards against: both empty).
    radios = RADIO_RE.findall(page)
    assert [(value, label) for _id, value, label in radios] == [
        ("received", "Eingang bestätigen"),
        ("accepted", "Annehmen"),
        ("declined", "Ablehnen (bitte unten einen Grund angeben)"),
    ]


def test_every_radio_group_renders_values_and_labels(app: Flask, alliance: Alliance) -> None:
    page = logged_in_client(app, alliance.coordinator).get("/verwaltung/team").get_data(as_text=True)
    roles = re.findall(
        r'<input type="radio" id="role-\d"[^>]* name="role" value="([^"]*)"[^>]*>\s*<label[^>]*>([^<]+)<', page
    )
    assert roles == [("officer", "Clearing-Fachkraft"), ("coordinator", "Koordination")]
    assert 'value=""' not in page.split('id="role-0"')[1].split("</fieldset>")[0]
