"""A flood on the status page (issue 14): counts only, this hour and the one before.

The counts are those the intake and the mailbox leave (reporting.service, reporting.flood). A coordinator
sees their own municipality; the network operator one group of rows per municipality. The
mailbox counts are installation-wide.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from core import throttle
from core.app import state
from core.clock import BERLIN, FixedClock
from core.config import Config
from core.models import Municipality
from reporting import flood
from reporting import service as reporting_service
from reporting.errors import ReceiptNotFound, TooManyAttempts
from tests.factories import Person, Town, add_person, add_town, new_report
from tests.web import flashes, logged_in_client, page_tables

STATUS = "/verwaltung/status"
SECTION = "ansturm"
FILTER_HINT = "mit dem Filter „Nur als Flut markierte“"


# One instant in the middle of an hour, for the app's clock and for the budgets' windows (10 s to
# an hour): what a test counts stays in one window however long it takes.
NOW = datetime.now(UTC).replace(minute=30, second=30, microsecond=0)


@pytest.fixture(autouse=True)
def frozen_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "utcnow", lambda: NOW)


def _clear_of_the_hour_turning() -> datetime:
    return NOW


def _reports(session: Session, config: Config, town: Town, count: int, *, solved: bool) -> None:
    """Reports as the intake takes them, with or without a solved challenge."""
    municipality = session.get_one(Municipality, town.id)
    for _ in range(count):
        reporting_service.submit_report(session, config, municipality, new_report(), solved=solved)


def _flood_of(session: Session, config: Config, town: Town) -> None:
    """25 reports without a solved challenge: 20 from the open budget, the rest deferred; marked from the 20th."""
    _reports(session, config, town, flood.OPEN_REPORTS_PER_WINDOW + 5, solved=False)


def _wrong_codes(session: Session, config: Config, count: int, *, solved: bool) -> None:
    """Receipt codes that open nothing, typed into the mailbox; without a solved challenge they
    spend the minute's open budget, and once that is spent they wait."""
    for _ in range(count):
        with pytest.raises((ReceiptNotFound, TooManyAttempts)):
            reporting_service.open_mailbox(session, config, "1234 5678 9012 3456", solved=solved)


def _mailbox_flood(session: Session, config: Config) -> None:
    """Three wrong codes with a solved challenge, then the open budget spent and one more that waits."""
    _wrong_codes(session, config, 3, solved=True)
    _wrong_codes(session, config, flood.OPEN_CODES_PER_WINDOW + 1, solved=False)


@pytest.fixture
def town_b(session: Session) -> Town:
    return add_town(session, "bstadt", "Bstadt")


@pytest.fixture
def coordinator_a(session: Session, config: Config, town_a: Town) -> Person:
    return add_person(session, config, town_a, "koordination-a", role="coordinator")


@pytest.fixture
def operator(session: Session, config: Config) -> Person:
    return add_person(session, config, None, "netzwerk", role="network_operator")


def _section(page: str) -> list[tuple[str, list[str]]]:
    tables, _headers = page_tables(page)
    return tables[SECTION]


def test_a_coordinator_sees_the_flood_of_her_municipality_in_counts(
    app: Flask, session: Session, config: Config, town_a: Town, town_b: Town, coordinator_a: Person
) -> None:
    client = logged_in_client(app, coordinator_a)
    at = _clear_of_the_hour_turning()
    state(app).clock = FixedClock(at)
    _flood_of(session, config, town_a)
    _reports(session, config, town_b, 7, solved=True)  # no flood there
    _mailbox_flood(session, config)
    session.commit()

    page = client.get(STATUS).get_data(as_text=True)
    assert "Ansturm auf Meldeformular und Postfach" in page
    hour = at.replace(minute=0, second=0, microsecond=0)
    this_hour = f"Diese Stunde (seit {hour.astimezone(BERLIN):%H:%M} Uhr)"
    previous = (
        f"Vorige Stunde ({(hour - timedelta(hours=1)).astimezone(BERLIN):%H:%M}–{hour.astimezone(BERLIN):%H:%M} Uhr)"
    )
    # Her municipality's reports (received, marked, deferred), then the mailbox's codes (wrong, waiting).
    assert _section(page) == [
        (this_hour, ["10", "5", "5"]),
        (previous, ["0", "0", "0"]),
        (this_hour, [str(3 + flood.OPEN_CODES_PER_WINDOW), "1"]),
        (previous, ["0", "0"]),
    ]
    assert "Bstadt" not in page
    # The notice says what is going on and leads to the flood view of the inbox.
    notice = page.split('role="status"', 1)[1].split("</div>", 1)[0]
    assert "Gerade gehen ungewöhnlich viele Meldungen oder Codeeingaben ein." in flashes(notice)
    assert "im Eingang mit „Flut“ markiert" in flashes(notice)
    assert FILTER_HINT in flashes(notice)
    assert "/clearing/" not in notice  # the officers' inbox, not a page the coordinator may open

    # An hour later the counts have moved to the previous hour, and the notice is gone.
    state(app).clock = FixedClock(at + timedelta(hours=1))
    later = client.get(STATUS).get_data(as_text=True)
    assert [cells for _label, cells in _section(later)] == [
        ["0", "0", "0"],
        ["10", "5", "5"],
        ["0", "0"],
        [str(3 + flood.OPEN_CODES_PER_WINDOW), "1"],
    ]
    assert 'role="status"' not in later
    assert "Zurzeit kein Ansturm." in later


def test_a_coordinator_hears_nothing_of_a_flood_elsewhere(
    app: Flask, session: Session, config: Config, town_a: Town, town_b: Town, coordinator_a: Person
) -> None:
    client = logged_in_client(app, coordinator_a)
    state(app).clock = FixedClock(_clear_of_the_hour_turning())
    _flood_of(session, config, town_b)
    session.commit()
    page = client.get(STATUS).get_data(as_text=True)
    assert [cells for _label, cells in _section(page)] == [["0", "0", "0"], ["0", "0", "0"], ["0", "0"], ["0", "0"]]
    assert "Bstadt" not in page
    assert 'role="status"' not in page
    assert FILTER_HINT not in page
    assert "Zurzeit kein Ansturm." in page


def test_the_network_operator_sees_every_municipality(
    app: Flask, session: Session, config: Config, town_a: Town, town_b: Town, operator: Person
) -> None:
    client = logged_in_client(app, operator)
    at = _clear_of_the_hour_turning()
    state(app).clock = FixedClock(at)
    _reports(session, config, town_a, 7, solved=True)
    _flood_of(session, config, town_b)
    _wrong_codes(session, config, 1, solved=True)
    session.commit()
    page = client.get(STATUS).get_data(as_text=True)
    rows = _section(page)
    # One group per municipality (by name): its name, then this hour's and the previous hour's counts.
    assert [(label, cells[1:] if label in ("Astadt", "Bstadt") else cells) for label, cells in rows] == [
        ("Astadt", ["7", "0", "0"]),
        (rows[1][0], ["0", "0", "0"]),
        ("Bstadt", ["10", "5", "5"]),
        (rows[3][0], ["0", "0", "0"]),
        (rows[4][0], ["1", "0"]),
        (rows[5][0], ["0", "0"]),
    ]
    assert rows[0][1][0].startswith("Diese Stunde")
    assert rows[1][0].startswith("Vorige Stunde")
    assert '<th scope="rowgroup" rowspan="2">Astadt</th>' in page
    # The notice names where the flood is; the inbox is no page of the network operator's.
    notice = page.split('role="status"', 1)[1].split("</div>", 1)[0]
    assert "Betroffene Kommunen: Bstadt" in flashes(notice)
    assert FILTER_HINT not in page
