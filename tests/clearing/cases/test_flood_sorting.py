"""Reports marked as flood in the inbox (issue 14): a badge, a filter, and sorting them in bulk.

The bulk form is used as the page offers it: the checkboxes are found by their labels (the case
reference), the buttons by their text, the confirmation by its label. Clearing the mark keeps a
report; deleting crypto-shreds it, only if marked, still "received" and not acute. Everything
is scoped to the officer's municipality and audited without content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from clearing.audit.models import AuditEvent
from clearing.cases.inbox import PAGE_SIZE
from core.config import Config
from core.db import Base, utcnow
from reporting.models import Case
from tests.factories import (
    PDF_BYTES,
    Person,
    SubmittedCase,
    Town,
    World,
    case_row,
    missing_id,
    office_message,
    submit_case,
)
from tests.web import flashes, logged_in_client, references_in, staff_csrf

INBOX = "/clearing/"
FLOOD_INBOX = "/clearing/?flood=y"
CLEAR = "Markierung aufheben"
DISCARD = "Als Flut-Meldungen löschen"
REVIEWED = "Ich habe die ausgewählten Meldungen gesichtet"
ROW_RE = re.compile(r"<tr class=\"[^\"]*\">(.*?)</tr>", re.DOTALL)


class _BulkForm(HTMLParser):
    """The inbox's POST form as a browser sees it: its fields, labels and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.checkboxes: dict[str, tuple[str, str]] = {}  # id -> (name, value)
        self.labels: dict[str, str] = {}  # for -> text
        self.buttons: dict[str, tuple[str, str]] = {}  # text -> (name, value)
        self._in_form = False
        self._label: str | None = None
        self._button: tuple[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method") == "post" and "/flut" in a.get("action", ""):
            self._in_form, self.action = True, a["action"]
        elif not self._in_form:
            return
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "checkbox":
            self.checkboxes[a["id"]] = (a["name"], a.get("value", ""))
        elif tag == "label":
            self._label, self._text = a.get("for", ""), []
        elif tag == "button":
            self._button, self._text = (a.get("name", ""), a.get("value", "")), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
        elif tag == "label" and self._label is not None:
            self.labels[self._label] = " ".join("".join(self._text).split())
            self._label = None
        elif tag == "button" and self._button is not None:
            self.buttons[" ".join("".join(self._text).split())] = self._button
            self._button = None

    def handle_data(self, data: str) -> None:
        self._text.append(data)


@dataclass
class BulkForm:
    """The form of one inbox page; `choose` fills it in as a person would."""

    parsed: _BulkForm
    data: dict[str, Any] = field(default_factory=dict)

    def checkbox(self, label: str) -> tuple[str, str]:
        found = [self.parsed.checkboxes[i] for i, text in self.parsed.labels.items() if label in text]
        assert len(found) == 1, f"no single checkbox labelled {label!r}: {self.parsed.labels}"
        return found[0]

    def tick(self, label: str) -> BulkForm:
        name, value = self.checkbox(label)
        self.data.setdefault(name, []).append(value)
        return self

    def press(self, client: FlaskClient, button: str) -> TestResponse:
        name, value = self.parsed.buttons[button]
        assert self.parsed.action is not None
        return client.post(self.parsed.action, data={**self.parsed.hidden, **self.data, name: value})


def bulk_form(client: FlaskClient, path: str = FLOOD_INBOX) -> BulkForm:
    parsed = _BulkForm()
    parsed.feed(client.get(path).get_data(as_text=True))
    assert parsed.action is not None, "no bulk form on the page"
    return BulkForm(parsed)


def select_case(reference: str) -> str:
    return f"Meldung {reference} auswählen"


def marked(session: Session, config: Config, town: Town, **report: Any) -> SubmittedCase:
    """A report that arrived during a flood."""
    submitted = submit_case(session, config, town, **report)
    case_row(session, submitted.id).flood_marked = True
    session.commit()
    return submitted


def listed(page: str) -> list[str]:
    """The references of the inbox rows in page order (a row names its case twice on the flood view)."""
    return list(dict.fromkeys(references_in(page)))


def rows_by_reference(page: str) -> dict[str, str]:
    rows = {}
    for cells in ROW_RE.findall(page):
        (reference,) = set(references_in(cells))
        rows[reference] = cells
    return rows


def audit_events(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def rows_of_case(session: Session, case_id: str) -> dict[str, int]:
    """Rows naming the case in every table that has a case_id column (and the case row itself)."""
    session.expire_all()
    found = {"report_case": session.scalar(select(func.count()).select_from(Case).where(Case.id == case_id)) or 0}
    for table in Base.metadata.sorted_tables:
        if "case_id" in table.c:
            found[table.name] = (
                session.scalar(select(func.count()).select_from(table).where(table.c.case_id == case_id)) or 0
            )
    return found


def snapshot(session: Session, *case_ids: str) -> list[tuple[Any, ...]]:
    session.expire_all()
    return [
        tuple(row)
        for row in session.execute(
            select(Case.id, Case.status, Case.urgency, Case.flood_marked, Case.report_ciphertext)
            .where(Case.id.in_(case_ids))
            .order_by(Case.id)
        )
    ]


@pytest.fixture
def flood(session: Session, config: Config, world: World) -> dict[str, SubmittedCase]:
    """Town A: two marked reports, one with a file and a message, and an unmarked one; B: a marked one."""
    first = marked(session, config, world.a, description="Flut eins", files=[("flut.pdf", PDF_BYTES)])
    office_message(session, world.a, case_row(session, first.id), "Wir prüfen Ihre Meldung.")
    made = {
        "first": first,
        "second": marked(session, config, world.a, description="Flut zwei"),
        "plain": submit_case(session, config, world.a, description="Eine echte Meldung"),
        "b": marked(session, config, world.b, description="Flut in Bstadt"),
    }
    return made


def test_flood_reports_carry_a_badge_and_the_filter_shows_only_them(
    app: Flask, world: World, flood: dict[str, SubmittedCase]
) -> None:
    client = logged_in_client(app, world.officer_a)
    everything = client.get(INBOX).get_data(as_text=True)
    rows = rows_by_reference(everything)
    assert set(rows) == {
        world.case_a.reference,
        flood["first"].reference,
        flood["second"].reference,
        flood["plain"].reference,
    }
    badge = '<strong class="badge badge-warning">Flut</strong>'
    assert {ref for ref, cells in rows.items() if badge in cells} == {
        flood["first"].reference,
        flood["second"].reference,
    }
    # The filter is offered in the filter form; the unfiltered inbox has no bulk form.
    assert '<label for="flood">Nur als Flut markierte</label>' in everything
    assert "/clearing/flut" not in everything

    filtered = client.get(FLOOD_INBOX).get_data(as_text=True)
    assert sorted(rows_by_reference(filtered)) == sorted([flood["first"].reference, flood["second"].reference])
    assert "2 Fälle" in filtered
    assert '<input type="checkbox" id="flood" name="flood" value="y" checked' in filtered
    form = bulk_form(client)
    assert set(form.parsed.buttons) == {CLEAR, DISCARD}
    assert form.parsed.labels["reviewed"] == REVIEWED
    assert "csrf_token" in form.parsed.hidden
    # One labelled checkbox per row, named after the case.
    assert sorted(form.checkbox(select_case(flood[k].reference))[1] for k in ("first", "second")) == sorted(
        [flood["first"].id, flood["second"].id]
    )


def test_the_filter_keeps_to_pagination_and_acute_reports_stay_on_top(
    app: Flask, session: Session, config: Config, town_a: Town, officer_a: Person
) -> None:
    now = utcnow()
    acute = marked(session, config, town_a, acute=True)
    case_row(session, acute.id).received_at = now - timedelta(days=3)  # the oldest
    unmarked = submit_case(session, config, town_a)
    flood = []
    for n in range(PAGE_SIZE + 1):
        made = marked(session, config, town_a)
        case_row(session, made.id).received_at = now - timedelta(minutes=n)
        flood.append(made)
    session.commit()
    client = logged_in_client(app, officer_a)
    first = client.get(FLOOD_INBOX).get_data(as_text=True)
    assert f"{PAGE_SIZE + 2} Fälle" in first
    assert listed(first) == [acute.reference] + [c.reference for c in flood[: PAGE_SIZE - 1]]
    next_link = re.search(r'href="([^"]+)" rel="next"', first)
    assert next_link is not None
    target = next_link.group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(target).query) == {"page": ["2"], "flood": ["y"]}
    second = client.get(target).get_data(as_text=True)
    assert listed(second) == [c.reference for c in flood[PAGE_SIZE - 1 :]]
    assert unmarked.reference not in first + second


def test_clearing_the_mark_keeps_the_reports_and_is_audited(
    app: Flask, session: Session, world: World, flood: dict[str, SubmittedCase]
) -> None:
    client = logged_in_client(app, world.officer_a)
    before = snapshot(session, flood["first"].id, flood["second"].id)
    response = bulk_form(client).tick(select_case(flood["first"].reference)).press(client, CLEAR)
    assert response.status_code == 303
    assert response.headers["Location"] == FLOOD_INBOX
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Bei 1 Meldung wurde die Markierung „Flut“ aufgehoben." in flashes(page)
    assert "nicht geändert" not in flashes(page)
    assert listed(page) == [flood["second"].reference]  # the cleared one left the flood view
    assert not case_row(session, flood["first"].id).flood_marked
    assert case_row(session, flood["second"].id).flood_marked
    after = snapshot(session, flood["first"].id, flood["second"].id)
    # Nothing else of either case changed.
    assert [row[:3] + row[4:] for row in after] == [row[:3] + row[4:] for row in before]
    (event,) = audit_events(session, "case.flood_cleared")
    assert (event.chain, event.actor_id, event.actor_role, event.target_id, event.detail) == (
        world.a.id,
        world.officer_a.id,
        "officer",
        flood["first"].id,
        None,
    )
    # Back in the whole inbox, without the badge.
    assert (
        '<strong class="badge badge-warning">Flut</strong>'
        not in rows_by_reference(client.get(INBOX).get_data(as_text=True))[flood["first"].reference]
    )


def test_deleting_flood_reports_shreds_them_and_is_audited(
    app: Flask, session: Session, world: World, flood: dict[str, SubmittedCase]
) -> None:
    client = logged_in_client(app, world.officer_a)
    first = flood["first"]
    held = rows_of_case(session, first.id)
    assert held["report_case"] == held["attachment"] == held["case_message"] == 1
    response = (
        bulk_form(client)
        .tick(select_case(first.reference))
        .tick(select_case(flood["second"].reference))
        .tick(REVIEWED)
        .press(client, DISCARD)
    )
    assert response.status_code == 303
    assert response.headers["Location"] == FLOOD_INBOX
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 Meldungen wurden als Flut-Meldungen endgültig gelöscht." in flashes(page)
    assert "Keine Fälle für diese Auswahl." in page
    for gone in (first, flood["second"]):
        assert set(rows_of_case(session, gone.id).values()) == {0}, gone
    # The rest is untouched: A's other cases, and B's marked one.
    for kept in (flood["plain"], flood["b"], world.case_a):
        assert rows_of_case(session, kept.id)["report_case"] == 1
    assert case_row(session, flood["b"].id).flood_marked
    discarded = audit_events(session, "case.flood_discarded")
    assert sorted(e.target_id or "" for e in discarded) == sorted([first.id, flood["second"].id])
    assert {(e.chain, e.actor_id, e.actor_role, e.detail) for e in discarded} == {
        (world.a.id, world.officer_a.id, "officer", None)
    }
    assert sorted(e.target_id or "" for e in audit_events(session, "case.purged")) == sorted(
        [first.id, flood["second"].id]
    )
    # The case page of a deleted report is gone.
    assert client.get(f"/clearing/fall/{first.id}").status_code == 404


def test_reports_that_are_acute_in_work_or_no_longer_marked_are_not_deleted(
    app: Flask, session: Session, config: Config, world: World, flood: dict[str, SubmittedCase]
) -> None:
    acute = marked(session, config, world.a, acute=True)
    in_work = flood["second"]
    case_row(session, in_work.id).status = "in_review"
    session.commit()
    client = logged_in_client(app, world.officer_a)
    form = bulk_form(client)
    for submitted in (acute, in_work, flood["first"]):
        form.tick(select_case(submitted.reference))
    # A colleague judged the first one genuine while this page was open.
    case_row(session, flood["first"].id).flood_marked = False
    session.commit()
    kept = [acute.id, in_work.id, flood["first"].id]
    before = snapshot(session, *kept)
    response = form.tick(REVIEWED).press(client, DISCARD)
    assert response.status_code == 303
    shown = flashes(client.get(response.headers["Location"]).get_data(as_text=True))
    assert f"Mit akuter Gefahr gemeldet, daher nicht gelöscht: {acute.reference}." in shown
    assert f"Schon in Bearbeitung, daher nicht gelöscht: {in_work.reference}." in shown
    assert f"Nicht als Flut markiert, daher nicht geändert: {flood['first'].reference}." in shown
    assert "endgültig gelöscht" not in shown
    assert snapshot(session, *kept) == before
    assert audit_events(session, "case.flood_discarded") == []


def test_one_deletable_among_refused_ones_is_deleted_alone(
    app: Flask, session: Session, config: Config, world: World, flood: dict[str, SubmittedCase]
) -> None:
    acute = marked(session, config, world.a, acute=True)
    client = logged_in_client(app, world.officer_a)
    before = snapshot(session, acute.id)
    response = (
        bulk_form(client)
        .tick(select_case(acute.reference))
        .tick(select_case(flood["second"].reference))
        .tick(REVIEWED)
        .press(client, DISCARD)
    )
    shown = flashes(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "1 Meldung wurde als Flut-Meldung endgültig gelöscht." in shown
    assert f"Mit akuter Gefahr gemeldet, daher nicht gelöscht: {acute.reference}." in shown
    assert rows_of_case(session, flood["second"].id)["report_case"] == 0
    assert snapshot(session, acute.id) == before


@pytest.mark.parametrize("button", [CLEAR, DISCARD])
def test_another_municipalitys_case_in_the_form_is_left_alone(
    app: Flask, session: Session, world: World, flood: dict[str, SubmittedCase], button: str
) -> None:
    client = logged_in_client(app, world.officer_a)
    b_before = snapshot(session, flood["b"].id)

    def sent(*extra_ids: str, own: bool = True) -> str:
        form = bulk_form(client).tick(REVIEWED)
        if own:
            form.tick(select_case(flood["first"].reference))
        name = form.checkbox(select_case(flood["second"].reference))[0]
        form.data.setdefault(name, []).extend(extra_ids)
        response = form.press(client, button)
        assert response.status_code == 303
        return flashes(client.get(response.headers["Location"]).get_data(as_text=True))

    # B's id alongside one of A's: A's is sorted, B's ignored like an id that does not exist.
    shown = sent(flood["b"].id)
    assert ("Bei 1 Meldung" in shown) if button == CLEAR else ("1 Meldung wurde" in shown)
    assert flood["b"].reference not in shown
    # Only B's id, and only a missing one: the same answer, nothing changed.
    only_b, only_missing = sent(flood["b"].id, own=False), sent(missing_id(), own=False)
    nothing_found = "Keine der ausgewählten Meldungen wurde gefunden. Es wurde nichts geändert."
    assert nothing_found in only_b
    assert nothing_found in only_missing
    assert snapshot(session, flood["b"].id) == b_before
    assert [e.target_id for e in audit_events(session, "case.flood_cleared")] == (
        [flood["first"].id] if button == CLEAR else []
    )


def test_deleting_without_the_confirmation_changes_nothing(
    app: Flask, session: Session, world: World, flood: dict[str, SubmittedCase]
) -> None:
    client = logged_in_client(app, world.officer_a)
    before = snapshot(session, flood["first"].id, flood["second"].id)
    response = (
        bulk_form(client)
        .tick(select_case(flood["first"].reference))
        .tick(select_case(flood["second"].reference))
        .press(client, DISCARD)
    )
    assert response.status_code == 303
    assert response.headers["Location"] == FLOOD_INBOX
    shown = flashes(client.get(response.headers["Location"]).get_data(as_text=True))
    assert (
        "Bitte bestätigen Sie, dass Sie die ausgewählten Meldungen gesichtet haben. Es wurde nichts gelöscht." in shown
    )
    assert snapshot(session, flood["first"].id, flood["second"].id) == before
    assert audit_events(session, "case.flood_discarded") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Bitte wählen Sie mindestens eine Meldung aus. Es wurde nichts geändert."),
        ({"cases": ["x" * 40]}, "Keine der ausgewählten Meldungen wurde gefunden. Es wurde nichts geändert."),
        ({"cases": [""]}, "Keine der ausgewählten Meldungen wurde gefunden. Es wurde nichts geändert."),
        ({"cases": [missing_id() for _ in range(101)]}, "Bitte wählen Sie höchstens 100 Meldungen auf einmal aus."),
    ],
)
def test_bad_selections_are_told_and_change_nothing(
    app: Flask, session: Session, world: World, flood: dict[str, SubmittedCase], data: dict[str, Any], message: str
) -> None:
    client = logged_in_client(app, world.officer_a)
    before = snapshot(session, flood["first"].id, flood["second"].id)
    for button in (CLEAR, DISCARD):
        form = bulk_form(client).tick(REVIEWED)
        form.data.update(data)
        response = form.press(client, button)
        assert response.status_code == 303, button
        assert message in flashes(client.get(response.headers["Location"]).get_data(as_text=True)), button
    # A request without a button, or with one that is not on offer, is told too.
    for action in (None, "drop"):
        form = bulk_form(client).tick(select_case(flood["first"].reference))
        hidden = form.parsed.hidden
        body = {**hidden, **form.data, **({"action": action} if action else {})}
        response = client.post(form.parsed.action or "", data=body)
        assert response.status_code == 303
    assert snapshot(session, flood["first"].id, flood["second"].id) == before
    assert audit_events(session, "case.flood_cleared") == audit_events(session, "case.flood_discarded") == []


def test_an_officer_without_the_office_key_gets_no_bulk_form_and_cannot_sort(
    app: Flask, session: Session, world: World, flood: dict[str, SubmittedCase]
) -> None:
    client = logged_in_client(app, world.waiting_a)
    page = client.get(FLOOD_INBOX).get_data(as_text=True)
    assert sorted(listed(page)) == sorted([flood["first"].reference, flood["second"].reference])
    assert "/clearing/flut" not in page
    # The form of a colleague who holds the key, sent from this session.
    form = bulk_form(logged_in_client(app, world.officer_a)).tick(select_case(flood["first"].reference))
    before = snapshot(session, flood["first"].id)
    response = client.post(
        "/clearing/flut", data={**form.data, "action": "discard", "reviewed": "y", "csrf_token": staff_csrf(client)}
    )
    assert response.status_code == 303
    assert "keinen Zugang zu den Fallinhalten" in flashes(
        client.get(response.headers["Location"]).get_data(as_text=True)
    )
    assert snapshot(session, flood["first"].id) == before


def test_only_officers_may_sort(app: Flask, session: Session, world: World, flood: dict[str, SubmittedCase]) -> None:
    before = snapshot(session, flood["first"].id)
    for person in (world.coordinator_a, world.operator):
        client = logged_in_client(app, person)
        response = client.post(
            "/clearing/flut",
            data={"cases": [flood["first"].id], "action": "discard", "reviewed": "y", "csrf_token": staff_csrf(client)},
        )
        assert response.status_code == 404, person.role
    assert snapshot(session, flood["first"].id) == before
