"""Journey 5: the network operator logs in with TOTP, creates a municipality (a taken short name is
refused first) and reads the network statistics, which count the demo municipality's reports."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Page, expect

from clearing.demo import DEMO_SLUG
from tests.journeys import steps
from tests.journeys.site import Journey, Site

# The network's threshold is at least 5: five reports of the one participating municipality show as 5.
REPORTS = 5
DESCRIPTION = "In der Bürgersprechstunde wurde ich als Bürgermeisterin bedroht."


def create_municipality(page: Page, name: str, short_name: str) -> None:
    page.get_by_label("Name der Kommune").fill(name)
    page.get_by_label("Kurzname für Adressen (z. B. musterstadt)").fill(short_name)
    page.get_by_role("button", name="Kommune anlegen").click()


def test_network_operator_creates_a_municipality_and_reads_the_network_statistics(journey: Journey, site: Site) -> None:
    # The demo municipality (a model municipality sharing its counts) receives reports; they are
    # assessed, and the hourly statistics job runs.
    reporter = journey.new_page()
    for n in range(REPORTS):
        steps.send_report(reporter, DEMO_SLUG, f"{DESCRIPTION} ({n + 1})")
    steps.assess_every_case(site)
    site.run_job("statistics")

    page = journey.new_page()
    steps.log_in_as(page, site.login(steps.NETWORK_OPERATOR))
    areas = page.get_by_role("navigation", name="Bereiche")

    # The municipalities of the network.
    areas.get_by_role("link", name="Kommunen", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kommunen im Netzwerk")
    expect(page.get_by_role("listitem").filter(has_text="Musterstadt (musterstadt)")).to_have_count(1)
    steps.checked(page, "the network's municipalities")

    # A short name that is taken is refused with a message at the field; nothing is created.
    create_municipality(page, "Musterstadt Nord", DEMO_SLUG)
    expect(page).to_have_title(re.compile(r"^Fehler:"))
    expect(page.get_by_text("Diesen Kurznamen gibt es schon").first).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Musterstadt Nord")).to_have_count(0)
    steps.checked(page, "the municipality form with its error")

    # A new municipality: created, its recovery key shown once, and listed.
    create_municipality(page, "Beispielstadt", "beispielstadt")
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("Beispielstadt wurde angelegt.")
    expect(notice).to_contain_text("Wiederherstellungsschlüssel – nur jetzt sichtbar.")
    expect(notice.locator("code")).to_have_text(re.compile(r"^[A-Z2-7]{4}(-[A-Z2-7]{1,4})+$"))
    expect(page.get_by_role("listitem").filter(has_text="Beispielstadt (beispielstadt)")).to_have_count(1)
    steps.checked(page, "the municipalities after creating one")

    # The network statistics: one municipality shares its counts (the new one does not yet), and
    # its five assessed reports are counted, by quarter and by group.
    areas.get_by_role("link", name="Netzwerkstatistik", exact=True).click()
    year = date.today().year
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Netzwerkstatistik {year}")
    expect(page.get_by_text("1 Kommune gibt ihre Zahlen für die Netzwerkstatistik frei.")).to_be_visible()
    quarter = f"{year}-Q{(date.today().month - 1) // 3 + 1}"
    by_quarter = page.get_by_role("table", name="Fälle insgesamt nach Quartal")
    expect(by_quarter.get_by_role("columnheader")).to_have_text(["Kategorie", quarter, "Summe"])
    expect(steps.table_row(page, "Fälle insgesamt nach Quartal", "Fälle").get_by_role("cell")).to_have_text(
        [str(REPORTS), str(REPORTS)]
    )
    by_group = page.get_by_role("table", name="Fälle insgesamt nach Gruppe")
    expect(by_group.get_by_role("columnheader")).to_have_text(
        ["Kategorie", "Modellkommunen", "Plattformkommunen", "Summe"]
    )
    expect(steps.table_row(page, "Fälle insgesamt nach Gruppe", "Fälle").get_by_role("cell")).to_have_text(
        [str(REPORTS), "0", str(REPORTS)]
    )
    steps.checked(page, "the network statistics")
