"""Who sees which numbers: a municipality's staff its own, the network operator the opted-in ones.

Astadt (model) and Bstadt (platform) publish to the network, Cstadt does not. Each has codes no
other one has, so a page that shows another municipality's numbers shows its labels.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from clearing.statistics import service as statistics
from clearing.statistics import suppression
from clearing.statistics.views import CODE_LABELS
from core.config import Config
from core.models import Municipality
from tests.factories import (
    Person,
    Spec,
    Town,
    add_case,
    add_partner,
    add_person,
    add_town,
    install_alliance,
    officer_staff,
    utc,
)
from tests.web import logged_in_client, page_tables

YEAR = date.today().year - 1
PAGES = ("/statistik", "/statistik.csv", "/statistik/jahresbericht", "/netzwerk/statistik", "/netzwerk/statistik.csv")
# Labels that only the cases of one municipality carry.
ONLY_A = ["Beleidigung oder Verleumdung", "Frauenfeindlichkeit"]
ONLY_B = ["Veröffentlichung persönlicher Daten", "Nachstellung (Stalking)", "Antiziganismus", "In sozialen Medien"]
ONLY_C = ["Hassrede oder Hetze", "Muslimfeindlichkeit", "Am Telefon"]


@dataclass(frozen=True)
class World:
    a: Town
    b: Town
    c: Town
    officer_a: Person
    coordinator_a: Person
    coordinator_b: Person
    operator: Person
    partner_a: Person


def _municipality(session: Session, town: Town, *, opt_in: bool, role: str, threshold: int | None = None) -> None:
    municipality = session.get(Municipality, town.id)
    assert municipality is not None
    municipality.statistics_opt_in, municipality.network_role, municipality.statistics_threshold = (
        opt_in,
        role,
        threshold,
    )
    session.commit()


@pytest.fixture
def world(session: Session, config: Config) -> World:
    a, b, c = (
        add_town(session, "astadt", "Astadt"),
        add_town(session, "bstadt", "Bstadt"),
        add_town(session, "cstadt", "Cstadt"),
    )
    _municipality(session, a, opt_in=True, role="model")
    _municipality(session, b, opt_in=True, role="platform")
    _municipality(session, c, opt_in=False, role="platform")
    officer_a, officer_b, officer_c = (add_person(session, config, t, f"fachkraft-{t.slug}") for t in (a, b, c))
    install_alliance(session, a)
    world = World(
        a, b, c, officer_a,
        coordinator_a=add_person(session, config, a, "koordination-a", role="coordinator"),
        coordinator_b=add_person(session, config, b, "koordination-b", role="coordinator"),
        operator=add_person(session, config, None, "netzwerk", role="network_operator"),
        partner_a=add_partner(session, config, a, "opferberatung", "beratung-a"),
    )  # fmt: skip
    cases: list[tuple[Town, Person, int, Spec]] = [
        (a, officer_a, 6, Spec(utc(YEAR, 2, 10))),
        (a, officer_a, 5, Spec(utc(YEAR, 5, 5))),
        (a, officer_a, 2, Spec(utc(YEAR, 3, 3), incident_types=["insult_defamation"], motives=["misogyny"], affected_role="mayor", channel="email", urgency="high")),
        (b, officer_b, 7, Spec(utc(YEAR, 1, 15), incident_types=["doxxing"], motives=["antiziganism"], affected_role="admin_staff", channel="social_media")),
        (b, officer_b, 1, Spec(utc(YEAR, 4, 2), incident_types=["stalking"], channel="social_media")),
        (c, officer_c, 9, Spec(utc(YEAR, 6, 1), incident_types=["hate_speech"], motives=["anti_muslim"], affected_role="frontline_staff", channel="phone")),
    ]  # fmt: skip
    for town, officer, number, spec in cases:
        staff = officer_staff(session, town, officer)
        for _ in range(number):
            add_case(session, config, town, staff, spec)
    statistics.refresh(session)
    session.commit()
    return world


def rows_of(page: str) -> dict[str, list[tuple[str, list[str]]]]:
    return page_tables(page)[0]


def cases_row(page: str, section: str = "t-cases") -> list[str]:
    return dict(rows_of(page)[section])["Fälle"]


def csv_rows(body: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["dimension", "code", "column", "value"]
    return rows[1:]


def test_staff_of_a_see_the_numbers_of_a_only(app: Flask, world: World) -> None:
    coordinator = logged_in_client(app, world.coordinator_a)
    page = coordinator.get(f"/statistik?jahr={YEAR}").get_data(as_text=True)
    assert "Statistik Astadt" in page
    assert cases_row(page) == ["8", "5", "13"]  # Q1, Q2, year: only Astadt's 13 cases
    # Threats 6 and 5, insults 2 and 0: the 2 is small, so the 6 beside it and its total are hidden
    # too (the column total 8 would otherwise give it away).
    assert dict(rows_of(page)["t-incident_type"]) == {
        "Bedrohung": ["•", "5", "•"],
        "Beleidigung oder Verleumdung": ["<5", "0", "<5"],
        "Summe": ["8", "5", "13"],
    }
    for label in ONLY_B + ONLY_C:
        assert label not in page
    # No parameter picks another municipality: whatever names Bstadt is ignored.
    for query in (
        f"municipality_id={world.b.id}",
        f"municipality={world.b.id}",
        "kommune=bstadt",
        f"gemeinde={world.b.id}",
        "slug=bstadt",
    ):
        other = coordinator.get(f"/statistik?jahr={YEAR}&{query}")
        assert other.status_code == 200
        assert rows_of(other.get_data(as_text=True)) == rows_of(page), query
        csv_body = coordinator.get(f"/statistik.csv?jahr={YEAR}&{query}").get_data(as_text=True)
        assert not {r[1] for r in csv_rows(csv_body)} & {"doxxing", "stalking", "hate_speech", "antiziganism"}
    annual = coordinator.get(f"/statistik/jahresbericht?jahr={YEAR}&municipality_id={world.b.id}").get_data(
        as_text=True
    )
    assert "Jahresbericht" in annual
    assert "Astadt" in annual
    assert "Bstadt" not in annual
    assert cases_row(annual) == ["8", "5", "13"]
    for label in ONLY_B + ONLY_C:
        assert label not in annual
    # An officer of A sees the same dashboard.
    officer_page = logged_in_client(app, world.officer_a).get(f"/statistik?jahr={YEAR}").get_data(as_text=True)
    assert rows_of(officer_page) == rows_of(page)
    # Bstadt's coordinator sees Bstadt's numbers, never Astadt's.
    page_b = logged_in_client(app, world.coordinator_b).get(f"/statistik?jahr={YEAR}").get_data(as_text=True)
    assert cases_row(page_b) == ["•", "<5", "8"]  # 7 and 1: the 7 hides the 1 from the total 8
    for label in ONLY_A + ONLY_C:
        assert label not in page_b


def test_the_network_sees_opted_in_municipalities_only(app: Flask, session: Session, world: World) -> None:
    operator = logged_in_client(app, world.operator)
    page = operator.get(f"/netzwerk/statistik?jahr={YEAR}").get_data(as_text=True)
    assert "2 Kommunen geben ihre Zahlen für die Netzwerkstatistik frei." in page
    assert cases_row(page, "t-alle-cases") == ["15", "6", "21"]  # Astadt 13 + Bstadt 8, never Cstadt's 9
    for label in ONLY_C:
        assert label not in page
    tables, headers = page_tables(page)
    assert headers["t-gruppen-cases"] == ["Modellkommunen", "Plattformkommunen", "Summe"]
    assert dict(tables["t-gruppen-cases"])["Fälle"] == ["13", "8", "21"]
    # Bstadt is the only platform municipality: its single stalking case is never shown.
    assert dict(tables["t-gruppen-incident_type"])["Nachstellung (Stalking)"] == ["0", "<5", "<5"]
    assert dict(tables["t-alle-incident_type"])["Nachstellung (Stalking)"][-1] == "<5"
    # Every number shown is 0 or at least the threshold.
    body = operator.get(f"/netzwerk/statistik.csv?jahr={YEAR}").get_data(as_text=True)
    shown = [value for *_key, value in csv_rows(body)]
    assert all(v in ("<5", "•") or v == "0" or int(v) >= 5 for v in shown)
    assert "<5" in shown
    # Once Cstadt opts in, its cases count too (so they were left out above, not missing).
    _municipality(session, world.c, opt_in=True, role="platform")
    later = operator.get(f"/netzwerk/statistik?jahr={YEAR}").get_data(as_text=True)
    assert cases_row(later, "t-alle-cases")[-1] == "30"
    assert "Hassrede oder Hetze" in later


def test_the_network_uses_the_highest_threshold(app: Flask, session: Session, world: World) -> None:
    _municipality(session, world.b, opt_in=True, role="platform", threshold=7)
    page = logged_in_client(app, world.operator).get(f"/netzwerk/statistik?jahr={YEAR}").get_data(as_text=True)
    assert "„&lt;7“: weniger als 7 Fälle" in page
    tables = rows_of(page)
    assert dict(tables["t-gruppen-incident_type"])["Nachstellung (Stalking)"] == ["0", "<7", "<7"]
    assert dict(tables["t-alle-cases"])["Fälle"][1] == "<7"  # 6 in Q2
    assert "<5" not in [cell for rows in tables.values() for _h, cells in rows for cell in cells]


def test_without_a_threshold_of_their_own_the_pages_follow_the_policy(
    app: Flask, session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one place the threshold is decided: raising it there raises it on every page.
    monkeypatch.setattr(suppression, "THRESHOLD", 7)
    coordinator = logged_in_client(app, world.coordinator_a)
    for path in (f"/statistik?jahr={YEAR}", f"/statistik/jahresbericht?jahr={YEAR}"):
        page = coordinator.get(path).get_data(as_text=True)
        assert "„&lt;7“: weniger als 7 Fälle" in page, path
        assert cases_row(page) == ["•", "<7", "13"], path  # Q2's 5 is small now, and Q1's 8 would give it away
    values = [row[3] for row in csv_rows(coordinator.get(f"/statistik.csv?jahr={YEAR}").get_data(as_text=True))]
    assert "<7" in values
    assert "<5" not in values
    network = logged_in_client(app, world.operator).get(f"/netzwerk/statistik?jahr={YEAR}").get_data(as_text=True)
    assert "„&lt;7“: weniger als 7 Fälle" in network
    # A municipality's own choice stays its own; the network keeps the stricter policy.
    _municipality(session, world.a, opt_in=True, role="model", threshold=5)
    page = coordinator.get(f"/statistik?jahr={YEAR}").get_data(as_text=True)
    assert "„&lt;5“: weniger als 5 Fälle" in page
    assert cases_row(page) == ["8", "5", "13"]
    network = logged_in_client(app, world.operator).get(f"/netzwerk/statistik?jahr={YEAR}").get_data(as_text=True)
    assert "„&lt;7“: weniger als 7 Fälle" in network


def test_who_gets_404(app: Flask, world: World) -> None:
    """Municipality staff on the network pages, partners on all, the operator on the municipality's."""
    for person in (world.coordinator_a, world.officer_a):
        client = logged_in_client(app, person)
        for path in ("/netzwerk/statistik", "/netzwerk/statistik.csv", f"/netzwerk/statistik?jahr={YEAR}"):
            assert client.get(path).status_code == 404, (person.login, path)
    partner = logged_in_client(app, world.partner_a)
    for path in PAGES:
        assert partner.get(f"{path}?jahr={YEAR}").status_code == 404, path
    operator = logged_in_client(app, world.operator)
    for path in PAGES[:3]:
        assert operator.get(f"{path}?jahr={YEAR}").status_code == 404, path
    stranger: FlaskClient = app.test_client()
    for path in PAGES:
        response = stranger.get(f"{path}?jahr={YEAR}")
        assert response.status_code in (302, 303), path
        assert response.headers["Location"].startswith("/anmelden")


def _html_cells(page: str, prefix: str = "t-") -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Per table section in page order: the dimension and its rows (label, cells), the total row last."""
    return [
        (section.removeprefix(prefix), rows) for section, rows in rows_of(page).items() if section.startswith(prefix)
    ]


def _csv_cells(body: str) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """The same from the CSV: tables in order, values grouped by code, codes named as on the page."""
    tables: list[tuple[str, list[tuple[str, list[str]]]]] = []
    last: tuple[str, str] | None = None
    for dimension, code, _column, value in csv_rows(body):
        if last is None or last[0] != dimension or (last[1] == "total" and code != "total"):
            tables.append((dimension, []))
        if last != (dimension, code):
            label = "Summe" if code == "total" else str(CODE_LABELS[dimension].get(code, code))
            tables[-1][1].append((label, []))
        tables[-1][1][-1][1].append(value)
        last = (dimension, code)
    return tables


def test_csv_shows_what_the_page_shows(app: Flask, world: World) -> None:
    client = logged_in_client(app, world.coordinator_a)
    # The period parameter is ignored: quarters only (see clearing.statistics.service.tables).
    for period in ("quarter", "month", "year"):
        page = client.get(f"/statistik?jahr={YEAR}&zeitraum={period}").get_data(as_text=True)
        response = client.get(f"/statistik.csv?jahr={YEAR}&zeitraum={period}")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == f"attachment; filename=statistik-astadt-{YEAR}.csv"
        body = response.get_data(as_text=True)
        assert _csv_cells(body) == _html_cells(page), period
        values = [row[3] for row in csv_rows(body)]
        assert "<5" in values
        assert "•" in values
        keys = {(row[0], row[1]) for row in csv_rows(body)}
        assert ("incident_type", "insult_defamation") in keys
        assert ("cases", "total") in keys
        assert all(code in CODE_LABELS[d] or code == "total" for d, code in keys)


def test_network_csv_shows_what_the_network_page_shows(app: Flask, world: World) -> None:
    client = logged_in_client(app, world.operator)
    page = client.get(f"/netzwerk/statistik?jahr={YEAR}").get_data(as_text=True)
    response = client.get(f"/netzwerk/statistik.csv?jahr={YEAR}")
    assert response.headers["Content-Disposition"] == f"attachment; filename=statistik-netzwerk-{YEAR}.csv"
    everything, groups = _html_cells(page, "t-alle-"), _html_cells(page, "t-gruppen-")
    assert _csv_cells(response.get_data(as_text=True)) == everything + groups
    columns = {row[2] for row in csv_rows(response.get_data(as_text=True))}
    assert {"model", "platform", "total", f"{YEAR}-Q1", f"{YEAR}-Q2"} <= columns
