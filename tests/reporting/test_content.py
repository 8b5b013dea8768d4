"""reporting.content is the one schema of the report: the form, the sealed JSON, the reporter's words,
the officer's case page and the referral packet all follow it, and a new field needs only the schema
and the form's template."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

import crypto
from clearing.partners import agreements
from clearing.partners.agreements import SHAREABLE_FIELDS
from clearing.referrals import packet
from clearing.referrals.packet import FIELD_LABELS, build_packet, packet_sections
from reporting import content
from reporting.content import CONSENTS, FIELD_BY_NAME, FIELDS, SEALED_ORDER, SHARES, Kind, read_content
from reporting.forms import ConsentForm, ReportForm
from reporting.models import Case
from reporting.report_text import report_lines
from tests.factories import add_person, add_town, config_of, office_case_key
from tests.web import full_report, logged_in_client, open_mailbox, submit

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    Kind.TEXT: "Eine Antwort",
    Kind.TIME: "12:00",
    Kind.DATE: "2025-01-02",
    Kind.MONTH: "2025-01",
    Kind.YES_NO: "no",
    Kind.TICK: "y",
    Kind.GROUP: "y",
    Kind.LINKS: "https://example.org/eine-antwort",
}


def every_answer() -> dict[str, Any]:
    """Every answer given, every tick ticked (a field the form helpers do not know yet: an example by its kind)."""
    data = full_report(done_counselling="y", consent_statistics="y")
    for field in FIELDS:
        example = [next(iter(field.codes))] if field.codes else EXAMPLES.get(field.kind)
        for name in field.form_names:
            if example is not None:
                data.setdefault(name, example)
    return data


EVERYTHING = every_answer()
# The JSON the intake form sealed for EVERYTHING before the schema existed, byte for byte.
SEALED_BEFORE = (
    '{"reporter_role":"affected","incident_time":"19:30","place":"Parkplatz am Rathaus","platform":"Kein Netzwerk",'
    '"evidence_found":"Ich selbst, am selben Abend","police_reference":"ST/1234/25",'
    '"perpetrator_description":"Ein Mann, etwa 50 Jahre alt",'
    '"description":"Nach der Ratssitzung wurde ich auf dem Parkplatz bedroht und beschimpft.","contact":"email",'
    '"contact_email":"person@example.org","contact_phone":"0170 1234567","incident_date":"2025-03-05",'
    '"incident_month":"2025-03","ongoing":true,"known_since":"2025-03-06",'
    '"urls":["https://example.org/beitrag/1","https://example.org/profil/2"],'
    '"already_done":{"police":true,"supervisor":true,"counselling":true},"perpetrator":"citizen",'
    '"incident_types":["threat","hate_speech"],"motives":["racism","political_engagement"],'
    '"affected_role":"council_member","channel":"public_space","acute_danger":false}'
)
# Report fields other code names on purpose; every other field is named only by the schema and the form's template.
NAMED_ELSEWHERE = {
    # Kept in clear too (ARCHITECTURE.md, "What is stored in clear"): urgency, statistics, routing.
    "acute_danger": "clear column",
    "affected_role": "clear column",
    "channel": "clear column",
    "incident_types": "clear codes",
    "motives": "clear codes",
    "incident_month": "clear column",
    "perpetrator": "clear column",
    # The inbox shows the start of the description.
    "description": "inbox summary",
    # The mail "a message is waiting" goes to the address of the way of contact chosen; the form checks them together.
    "contact": "notification address",
    "contact_email": "notification address",
    "contact_phone": "checked with contact",
    # Files travel as attachments of their own.
    "files": "attachments",
    # Another word of the same spelling: the statistics' "platform municipalities".
    "platform": "a homonym",
}


def _labels(field: content.ReportField) -> list[str]:
    return [str(part.label) for part in field.parts] if field.kind is Kind.GROUP else [str(field.label)]


def _html(text: str) -> str:
    return str(escape(text))


def _between(page: str, start: str, end: str) -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


def test_the_schema_agrees_with_itself() -> None:
    assert [field.name for field in FIELDS] == list(FIELD_BY_NAME)
    assert sorted(field.name for field in FIELDS if field.sealed) == sorted(SEALED_ORDER)
    assert {field.share for field in FIELDS if field.share} == {share.name for share in SHARES}
    for field in FIELDS:
        if field.kind in (Kind.CHOICE, Kind.MULTI_CHOICE):
            assert field.codes, field.name
        if field.from_date:
            assert FIELD_BY_NAME[field.from_date].kind is Kind.DATE
    assert [consent.name for consent in CONSENTS] == list(content.CONSENT_BY_NAME)


def test_the_form_asks_every_field_with_the_schemas_label_and_codes(app: Flask) -> None:
    with app.test_request_context():
        form = ReportForm(formdata=None)
        asked = [name for field in FIELDS for name in field.form_names]
        consents = [consent.field_name for consent in CONSENTS]
        assert set(form._fields) == {*asked, *consents, "website", "csrf_token"}
        for field in FIELDS:
            for name, label in zip(field.form_names, _labels(field), strict=True):
                assert form[name].label.text == label, name
            if field.codes is not None:
                assert [choice.value for choice in form[field.name].choices] == list(field.codes), field.name
                assert [str(choice.label) for choice in form[field.name].choices] == [
                    str(label) for label in field.codes.values()
                ]
            if field.hint and field.kind is not Kind.FILES:
                assert str(form[field.name].description) == str(field.hint)
        for consent in CONSENTS:
            assert form[consent.field_name].label.text == str(consent.label)
        assert [field.label.text for field in form.consent_fields()] == [str(c.label) for c in CONSENTS]
        assert [field.label.text for field in ConsentForm(formdata=None).consent_fields()] == [
            str(c.short) for c in CONSENTS
        ]


def test_the_intake_page_shows_every_field_of_the_schema(client: FlaskClient, session: Session) -> None:
    """The template is the one place besides the schema a new field needs: this catches a field it lacks."""
    town = add_town(session)
    page = client.get(f"/melden/{town.slug}").get_data(as_text=True)
    form = page[page.index("<form") :]
    for field in FIELDS:
        for name in field.form_names:
            assert f'name="{name}"' in form, name
        for label in [*_labels(field), str(field.label)]:
            assert _html(label) in form, label
    for consent in CONSENTS:
        assert f'name="{consent.field_name}"' in form
        assert _html(str(consent.label)) in form


def test_the_sealed_json_stays_what_reports_have_been_sealed_as(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    submit(client, town, EVERYTHING)
    case = session.scalars(select(Case)).one()
    key = office_case_key(session, town, case)
    sealed = crypto.box_decrypt(key, case.report_ciphertext, purpose="report", record_id=case.id)
    # A field added later adds its key at the end; everything before stays as it was.
    assert sealed.decode().startswith(SEALED_BEFORE.removesuffix("}"))
    assert list(json.loads(sealed)) == list(SEALED_ORDER)


def test_a_report_sealed_before_a_field_existed_still_opens_and_reads(app: Flask) -> None:
    older = json.loads(SEALED_BEFORE)
    del older["evidence_found"], older["known_since"], older["already_done"]
    report = read_content(older)
    assert report["evidence_found"] is None
    assert report["known_since"] is None
    with app.test_request_context():
        labels = [line.label for line in report_lines(report)]
        words = packet_sections(build_packet(report, None, SHAREABLE_FIELDS), SHAREABLE_FIELDS)
    assert str(FIELD_BY_NAME["evidence_found"].label) not in labels
    assert str(FIELD_BY_NAME["place"].label) in labels
    done = next(section for section in words if section.field == "already_done")
    assert [(item.label, item.text) for item in done.items] == [(None, "–")]


def test_the_reporters_words_and_the_case_page_show_every_field_under_its_label(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    town = add_town(session)
    code = submit(client, town, EVERYTHING)
    case = session.scalars(select(Case)).one()
    mailbox = _between(open_mailbox(client, code), '<section aria-labelledby="ihre-meldung">', "</section>")
    officer = add_person(session, config_of(app), town, "fachkraft")
    case_page = logged_in_client(app, officer).get(f"/clearing/fall/{case.id}").get_data(as_text=True)
    report = _between(case_page, '<section aria-labelledby="meldung">', "</section>")
    for shown in (mailbox, report):
        for field in FIELDS:
            if not field.sealed:
                continue
            label = f"<dt>{_html(str(field.label))}</dt>"
            if field.from_date:  # the month of the day given: said once, by the day
                assert label not in shown, field.name
                continue
            assert label in shown, field.name
            for part in field.parts:
                assert _html(str(part.label)) in shown, part.key
        for code_word in ("public_space", "council_member", "hate_speech", "True", "False"):
            assert code_word not in shown, code_word
    for consent in CONSENTS:
        assert _html(str(consent.short)) in report


def test_the_month_alone_is_said_as_a_month(app: Flask) -> None:
    report = read_content({**json.loads(SEALED_BEFORE), "incident_date": None, "incident_month": "2026-10"})
    with app.test_request_context():
        lines = {line.label: line.text for line in report_lines(report)}
    assert lines[str(FIELD_BY_NAME["incident_month"].label)] == "Oktober 2026"
    assert str(FIELD_BY_NAME["incident_date"].label) not in lines


def test_every_shareable_field_reaches_the_packet_under_its_label_and_nothing_else(app: Flask) -> None:
    report = read_content(json.loads(SEALED_BEFORE))
    sealed = build_packet(report, None, SHAREABLE_FIELDS)
    assert list(sealed) == [share.name for share in SHARES if share.name != "files"]
    with app.test_request_context():
        sections = {section.field: section for section in packet_sections(sealed, SHAREABLE_FIELDS)}
    for field in FIELDS:
        if field.share is None:
            assert json.dumps(report[field.name], ensure_ascii=False) not in json.dumps(sealed, ensure_ascii=False)
            continue
        if field.share == "files":
            continue
        share = content.SHARE_BY_NAME[field.share]
        section = sections[share.name]
        assert section.title == str(FIELD_LABELS[share.name])
        if share.grouped:
            assert sealed[share.name][field.packet_key] == report[field.name], field.name
            if not field.from_date:
                assert str(field.label) in [item.label for item in section.items], field.name
        else:
            assert sealed[share.name] == report[field.name], field.name
            for part in field.parts:
                assert str(part.label) in [item.label for item in section.items], part.key


def test_the_agreements_name_the_packet_sections_and_consents_of_the_schema() -> None:
    assert (*(share.name for share in SHARES), packet.ASSESSMENT) == SHAREABLE_FIELDS
    assert agreements.SHAREABLE_FIELDS is SHAREABLE_FIELDS
    assert set(FIELD_LABELS) == set(SHAREABLE_FIELDS)
    assert agreements.CONSENTS == ("counselling", "police", "employer", "prosecutor")
    assert tuple(consent.name for consent in CONSENTS if consent.for_referrals) == agreements.CONSENTS


def test_a_new_field_takes_the_schema_and_the_forms_template() -> None:
    """The module's docstring names the files; no other module or template names an ordinary field."""
    doc = content.__doc__ or ""
    named = re.findall(r"^\d\. ``([\w/.]+)``", doc, re.MULTILINE)
    assert named == ["reporting/content.py", "templates/reporting/report_form.html"]
    assert all((ROOT / path).is_file() for path in named)
    sources = [
        path for package in ("core", "reporting", "clearing", "workers") for path in (ROOT / package).rglob("*.py")
    ]
    sources += list((ROOT / "templates").rglob("*.html"))
    sources = [path for path in sources if path.relative_to(ROOT).as_posix() not in named]
    for field in FIELDS:
        if field.name in NAMED_ELSEWHERE:
            continue
        for name in {field.name, *field.form_names}:
            spelled = re.compile(rf"""["']{name}["']|\.{name}\b|\b{name}=""")
            found = [path.relative_to(ROOT).as_posix() for path in sources if spelled.search(path.read_text())]
            assert found == [], f"{name} is spelled in {found}: read it from reporting.content instead"
