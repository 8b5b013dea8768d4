"""The inbox: filters on clear metadata, sorting, pagination, marks, a constant number of statements
per page, and decryption of the page shown only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from clearing.cases import inbox
from clearing.cases.deadlines import add_months, case_deadlines, overdue_limits
from clearing.cases.inbox import PAGE_SIZE
from core.db import utcnow
from tests.factories import Person, SubmittedCase, Town, add_person, case_row, config_of, submit_case
from tests.web import logged_in_client, references_in

ROW_RE = re.compile(
    r"<tr class=\"([^\"]*)\">\s*<td><a href=\"/clearing/fall/[0-9a-f]+\">(K-[A-Z0-9]{8})</a>(.*?)</tr>", re.DOTALL
)


def _rows(page: str) -> dict[str, tuple[str, str]]:
    """reference -> (row classes, row cells) of the inbox table."""
    return {ref: (classes, cells) for classes, ref, cells in ROW_RE.findall(page)}


def _listed(client: FlaskClient, query: str = "") -> list[str]:
    response = client.get(f"/clearing/?{query}")
    assert response.status_code == 200
    return references_in(response.get_data(as_text=True))


@dataclass(frozen=True)
class Cases:
    acute: SubmittedCase  # received yesterday, acute, threat + racism, nobody assigned
    late_ack: SubmittedCase  # in review, 10 days old and unanswered, high, hate speech + antisemitism, mine
    closed: SubmittedCase  # closed long ago, low, threat + misogyny, a colleague's
    late_feedback: SubmittedCase  # assessed, 100 days old (answered), doxxing + racism, nobody
    fresh: SubmittedCase  # received now, normal, insult + political engagement, nobody


@pytest.fixture
def colleague(session: Session, app: Flask, town_a: Town) -> Person:
    return add_person(session, config_of(app), town_a, "kollegin-a", display_name="Karla Kollegin")


@pytest.fixture
def cases(app: Flask, session: Session, town_a: Town, officer_a: Person, colleague: Person) -> Cases:
    config, now = config_of(app), utcnow()

    def make(
        days_old: float,
        status: str,
        urgency: str,
        types: list[str],
        motives: list[str],
        assigned: str | None,
        acknowledged: bool,
    ) -> SubmittedCase:
        submitted = submit_case(
            session,
            config,
            town_a,
            description=f"Beschreibung {status} {urgency}",
            incident_types=types,
            motives=motives,
        )
        row = case_row(session, submitted.id)
        row.received_at = now - timedelta(days=days_old)
        row.status, row.urgency, row.assigned_to = status, urgency, assigned
        row.acknowledged_at = row.received_at + timedelta(days=1) if acknowledged else None
        session.commit()
        return submitted

    return Cases(
        acute=make(1, "received", "acute", ["threat"], ["racism"], None, False),
        late_ack=make(10, "in_review", "high", ["hate_speech"], ["antisemitism"], officer_a.id, False),
        closed=make(200, "closed", "low", ["threat"], ["misogyny"], colleague.id, True),
        late_feedback=make(100, "assessed", "normal", ["doxxing"], ["racism"], None, True),
        fresh=make(0, "received", "normal", ["insult_defamation"], ["political_engagement"], None, False),
    )


def test_filters(app: Flask, cases: Cases, officer_a: Person, colleague: Person) -> None:
    c = cases
    client = logged_in_client(app, officer_a)
    ten_days_ago = (utcnow() - timedelta(days=10)).date().isoformat()
    expected: dict[str, list[SubmittedCase]] = {
        "": [c.acute, c.late_ack, c.closed, c.late_feedback, c.fresh],
        "status=in_review": [c.late_ack],
        "status=received": [c.acute, c.fresh],
        "status=withdrawn": [],
        "urgency=acute": [c.acute],
        "urgency=low": [c.closed],
        "incident_type=threat": [c.acute, c.closed],
        "motive=racism": [c.acute, c.late_feedback],
        "motive=racism&urgency=normal": [c.late_feedback],
        f"received_from={ten_days_ago}&received_to={ten_days_ago}": [c.late_ack],
        f"received_from={ten_days_ago}": [c.acute, c.late_ack, c.fresh],
        f"received_to={ten_days_ago}": [c.late_ack, c.closed, c.late_feedback],
        "assigned=me": [c.late_ack],
        "assigned=none": [c.acute, c.late_feedback, c.fresh],
        f"assigned={colleague.id}": [c.closed],
        "overdue=y": [c.late_ack, c.late_feedback],
        "overdue=y&assigned=none": [c.late_feedback],
    }
    for query, wanted in expected.items():
        assert sorted(_listed(client, query)) == sorted(s.reference for s in wanted), query
    # Values that are not on offer are ignored, not an error.
    assert len(_listed(client, "status=bogus&page=abc")) == 5
    assert len(_listed(client, "sort=drop%20table")) == 5


def test_sorting(app: Flask, cases: Cases, officer_a: Person) -> None:
    c = cases
    client = logged_in_client(app, officer_a)
    # The open acute case is pinned on top whatever the sort; the rest follow the sort.
    newest = [c.acute, c.fresh, c.late_ack, c.late_feedback, c.closed]
    assert _listed(client) == [s.reference for s in newest]
    assert _listed(client, "sort=newest") == [s.reference for s in newest]
    assert _listed(client, "sort=oldest") == [
        s.reference for s in (c.acute, c.closed, c.late_feedback, c.late_ack, c.fresh)
    ]
    assert _listed(client, "sort=urgency") == [
        s.reference for s in (c.acute, c.late_ack, c.fresh, c.late_feedback, c.closed)
    ]
    assert _listed(client, "sort=status") == [
        s.reference for s in (c.acute, c.late_feedback, c.closed, c.late_ack, c.fresh)
    ]


def test_acute_and_overdue_rows_stand_out(app: Flask, cases: Cases, officer_a: Person) -> None:
    rows = _rows(logged_in_client(app, officer_a).get("/clearing/").get_data(as_text=True))
    assert set(rows) == {c.reference for c in vars(cases).values()}
    for submitted in vars(cases).values():
        classes, cells = rows[submitted.reference]
        acute = submitted == cases.acute
        overdue = submitted in (cases.late_ack, cases.late_feedback)
        assert ("row-acute" in classes.split()) == acute, submitted
        assert ("akut" in cells) == acute
        assert ("row-overdue" in classes.split()) == overdue, submitted
        assert ("überfällig" in cells) == overdue


def test_the_inbox_and_the_case_page_agree_on_what_is_overdue(
    app: Flask, session: Session, town_a: Town, officer_a: Person
) -> None:
    today = date.today()
    # Around the 7-day acknowledgement (due on the 7th day, overdue from the 8th) and the 3-month
    # feedback (89 to 92 days, depending on the months); at the first and the last second of a
    # day, since deadlines count in days, not hours.
    moments = [(n, False) for n in (6, 7, 8)] + [(n, True) for n in range(88, 95)]
    made = {}
    for days_ago, acknowledged in moments:
        for at in (time(0, 0, 0), time(23, 59, 59)):
            submitted = submit_case(session, config_of(app), town_a)
            row = case_row(session, submitted.id)
            row.received_at = datetime.combine(today - timedelta(days=days_ago), at, tzinfo=UTC)
            row.acknowledged_at = row.received_at if acknowledged else None
            session.commit()
            made[submitted.reference] = (submitted.id, days_ago, acknowledged, at)
    client = logged_in_client(app, officer_a)
    rows = _rows(client.get("/clearing/?sort=oldest").get_data(as_text=True))
    listed_overdue = set(_listed(client, "overdue=y"))
    disagreements = []
    for reference, (case_id, days_ago, acknowledged, at) in made.items():
        on_case_page = "deadline-overdue" in client.get(f"/clearing/fall/{case_id}").get_data(as_text=True)
        in_inbox = "row-overdue" in rows[reference][0].split()
        if not on_case_page == in_inbox == (reference in listed_overdue):
            disagreements.append((days_ago, acknowledged, str(at), on_case_page, in_inbox))
    assert disagreements == []
    assert 0 < len(listed_overdue) < len(made)


def test_overdue_limits_follow_the_day_counting_of_the_deadlines() -> None:
    # Every day of two years (one a leap year), cases received up to 100 days before.
    for today in (date(2024, 1, 1) + timedelta(days=n) for n in range(731)):
        ack_limit, feedback_limit = overdue_limits(today)
        for days_ago in range(100):
            received = datetime.combine(today - timedelta(days=days_ago), time(12, 0), tzinfo=UTC)
            ack, feedback = case_deadlines(received, None, False, None, today)
            assert (received < ack_limit) == ack.overdue, (today, days_ago)
            assert (received < feedback_limit) == feedback.overdue == (add_months(received.date(), 3) < today), (
                today,
                days_ago,
            )


def _many(app: Flask, session: Session, town: Town, count: int, start: int = 0) -> list[SubmittedCase]:
    config, now = config_of(app), utcnow()
    made = []
    for n in range(start, start + count):
        submitted = submit_case(session, config, town, description=f"Beschreibung Nummer {n:03d}. " + "Text " * 40)
        case_row(session, submitted.id).received_at = now - timedelta(hours=n)
        session.commit()
        made.append(submitted)
    return made


def test_pagination_with_more_than_a_page(app: Flask, session: Session, town_a: Town, officer_a: Person) -> None:
    made = _many(app, session, town_a, PAGE_SIZE + 5)
    client = logged_in_client(app, officer_a)
    first = client.get("/clearing/?urgency=normal").get_data(as_text=True)
    assert f"{PAGE_SIZE + 5} Fälle" in first
    assert "Seite 1 von 2" in first
    assert references_in(first) == [s.reference for s in made[:PAGE_SIZE]]
    next_link = re.search(r'href="([^"]+)" rel="next"', first)
    assert next_link is not None
    query = parse_qs(urlsplit(next_link.group(1).replace("&amp;", "&")).query)
    assert query == {"page": ["2"], "urgency": ["normal"]}  # the filters stay
    second = client.get(next_link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Seite 2 von 2" in second
    assert 'rel="next"' not in second
    assert 'rel="prev"' in second
    assert references_in(second) == [s.reference for s in made[PAGE_SIZE:]]
    # Out of range pages show the nearest page.
    assert references_in(client.get("/clearing/?page=99").get_data(as_text=True)) == references_in(second)
    assert references_in(client.get("/clearing/?page=-3").get_data(as_text=True)) == references_in(first)
    # Summaries: the page's own, shortened.
    assert "Beschreibung Nummer 000." in first
    assert "Beschreibung Nummer 025." not in first
    assert "Beschreibung Nummer 025." in second
    assert "…" in first


def test_statements_per_page_do_not_grow_with_the_rows_shown(
    app: Flask,
    session: Session,
    town_a: Town,
    officer_a: Person,
    count_queries: Callable[[], AbstractContextManager[list[str]]],
) -> None:
    _many(app, session, town_a, 1)
    client = logged_in_client(app, officer_a)
    assert len(_listed(client)) == 1  # warm-up
    with count_queries() as one_row:
        assert len(_listed(client)) == 1
    _many(app, session, town_a, PAGE_SIZE - 1, start=1)
    with count_queries() as full_page:
        assert len(_listed(client)) == PAGE_SIZE
    with count_queries() as filtered:
        assert len(_listed(client, "status=received&incident_type=threat&motive=racism&overdue=y&sort=urgency")) == 0
    assert len(one_row) == len(full_page), (one_row, full_page)
    assert len(one_row) <= 12, one_row
    assert len(filtered) <= len(full_page)


def test_only_the_page_shown_is_decrypted(
    app: Flask, session: Session, town_a: Town, officer_a: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many(app, session, town_a, PAGE_SIZE + 5)
    client = logged_in_client(app, officer_a)
    opened: list[str] = []
    real_open = inbox.case_crypto.open_case_key

    def counting_open(office_key: bytes, sealed: bytes, case_id: str) -> bytes:
        opened.append(case_id)
        return real_open(office_key, sealed, case_id)

    monkeypatch.setattr(inbox.case_crypto, "open_case_key", counting_open)
    client.get("/clearing/")
    assert len(opened) == PAGE_SIZE
    opened.clear()
    client.get("/clearing/?page=2")
    assert len(opened) == 5
    opened.clear()
    client.get("/clearing/?status=closed")
    assert opened == []


def test_columns_for_the_next_deadline_and_the_assignee(app: Flask, cases: Cases, officer_a: Person) -> None:
    rows = _rows(logged_in_client(app, officer_a).get("/clearing/").get_data(as_text=True))
    # Unanswered for 10 days: the acknowledgement is the next deadline, overdue in words, not by colour alone.
    late_ack = rows[cases.late_ack.reference][1]
    assert "überfällig" in late_ack
    assert "Eingangsbestätigung" in late_ack
    assert "seit 3 Tagen" in late_ack
    assert "Anna Fachkraft" in late_ack
    # Answered long ago, but the three months for feedback have passed.
    late_feedback = rows[cases.late_feedback.reference][1]
    assert "Rückmeldung an die meldende Person" in late_feedback
    assert "überfällig" in late_feedback
    assert "niemand" in late_feedback
    fresh = rows[cases.fresh.reference][1]
    assert "Eingangsbestätigung" in fresh
    assert "noch 7 Tage" in fresh
    # A closed case has no deadline left; its assignee is still named.
    closed = rows[cases.closed.reference][1]
    assert "Karla Kollegin" in closed
    assert "Eingangsbestätigung" not in closed


def test_my_cases_view(app: Flask, cases: Cases, officer_a: Person) -> None:
    client = logged_in_client(app, officer_a)
    page = client.get("/clearing/?status=in_review").get_data(as_text=True)
    mine = re.search(r'<a href="([^"]+)"( aria-current="page")?>Meine Fälle</a>', page)
    assert mine is not None
    assert not mine.group(2)
    assert re.search(r'<a href="/clearing/\?status=in_review" aria-current="page">Alle Fälle</a>', page)
    target = mine.group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(target).query) == {"assigned": ["me"], "status": ["in_review"]}  # the filters stay
    shown = client.get(target).get_data(as_text=True)
    assert references_in(shown) == [cases.late_ack.reference]
    assert 'aria-current="page">Meine Fälle</a>' in shown


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("K-AB12CD34", "K-AB12CD34"),
        (" k-ab12 cd34 ", "K-AB12CD34"),
        ("KAB12CD34", "K-AB12CD34"),
        ("ab12cd34", "K-AB12CD34"),
        ("ab12", "AB12"),
        ("k-AB", "AB"),
        ("%_", ""),
    ],
)
def test_references_are_normalised_as_they_are_written(typed: str, expected: str) -> None:
    assert inbox.normalise_reference(typed) == expected


def test_search_by_reference(app: Flask, cases: Cases, officer_a: Person) -> None:
    client = logged_in_client(app, officer_a)

    def _listed(client: FlaskClient, query: str = "") -> list[str]:
        # The table's rows only: the search field shows what was typed.
        return list(_rows(client.get(f"/clearing/?{query}").get_data(as_text=True)))

    wanted = cases.late_feedback.reference
    assert _listed(client, f"reference={wanted}") == [wanted]
    assert _listed(client, f"reference={wanted[2:].lower()}") == [wanted]
    part = wanted[4:8]
    assert wanted in _listed(client, f"reference={part}")
    assert all(part in ref for ref in _listed(client, f"reference={part}"))
    assert _listed(client, "reference=K-00000000") == []
    # LIKE wildcards are letters like any other, not a way to list everything.
    assert _listed(client, "reference=%25") == _listed(client)  # no letters: a clear message, no filter
    refused = client.get("/clearing/?reference=%25%25")
    assert refused.status_code == 200
    assert "Bitte geben Sie eine Fallnummer (K- und acht Zeichen) oder einen Teil davon ein." in refused.get_data(
        as_text=True
    )
    assert client.get("/clearing/?reference=" + "A" * 50).status_code == 200


def test_a_closed_acute_case_is_not_pinned(app: Flask, session: Session, cases: Cases, officer_a: Person) -> None:
    row = case_row(session, cases.acute.id)
    row.status = "closed"
    session.commit()
    client = logged_in_client(app, officer_a)
    assert _listed(client)[0] == cases.fresh.reference


def test_the_filters_are_folded_away_unless_one_is_set(app: Flask, cases: Cases, officer_a: Person) -> None:
    client = logged_in_client(app, officer_a)
    for query, unfolded in {
        "": False,
        "assigned=me": False,
        "reference=AB12": False,
        "page=2": False,
        "status=received": True,
        "assigned=none": True,
        "overdue=y": True,
        "sort=oldest": True,
        "received_from=kein-datum": True,  # an error shows where it can be seen
    }.items():
        page = client.get(f"/clearing/?{query}").get_data(as_text=True)
        assert ('<details class="filters" open>' in page) == unfolded, query
        assert ('<details class="filters">' in page) != unfolded, query


def test_acute_cases_are_pinned_across_pages(app: Flask, session: Session, town_a: Town, officer_a: Person) -> None:
    made = _many(app, session, town_a, PAGE_SIZE + 5)
    acute = [made[-1], made[-4], made[10]]  # the oldest ones too
    for submitted in acute:
        case_row(session, submitted.id).urgency = "acute"
        session.commit()  # case_row expires what the session holds
    client = logged_in_client(app, officer_a)
    for sort in ("newest", "oldest", "status"):
        first = _listed(client, f"sort={sort}")
        second = _listed(client, f"sort={sort}&page=2")
        assert len(first) == PAGE_SIZE
        assert sorted(first + second) == sorted(s.reference for s in made), sort  # each once
        assert set(first[:3]) == {s.reference for s in acute}, sort
    newest = _listed(client) + _listed(client, "page=2")
    assert newest[:3] == [made[10].reference, made[-4].reference, made[-1].reference]
    assert newest[3:] == [s.reference for s in made if s not in acute]
