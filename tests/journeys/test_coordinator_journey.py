"""Journey 4: the coordinator logs in with TOTP and goes through team, agreements, job status and the
statistics, which show the reports sent through the form once the statistics refresh job ran."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Locator, Page, expect

from core.cli import DEMO_SLUG
from tests.journeys import steps
from tests.journeys.conftest import Journey
from tests.journeys.site import Site

# At the demo's threshold of 5 a count of 6 is shown as it is; the seventh report has no
# statistics consent and must not be counted.
COUNTED_REPORTS = 6
DESCRIPTION = "Am Schalter im Bürgerbüro wurde ich wegen meiner Herkunft beleidigt."


def open_area(page: Page, link: str, heading: str | re.Pattern[str]) -> None:
    """Follow a link of the staff navigation and check the page it leads to."""
    page.get_by_role("navigation", name="Bereiche").get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    steps.checked(page, f"the coordinator's {link} page")


def test_coordinator_sees_team_agreements_jobs_and_statistics(journey: Journey, site: Site) -> None:
    # Reports come in through the public form; the officer assesses them.
    reporter = journey.new_page()
    for n in range(COUNTED_REPORTS):
        steps.send_report(reporter, DEMO_SLUG, f"{DESCRIPTION} ({n + 1})")
    steps.send_report(reporter, DEMO_SLUG, f"{DESCRIPTION} (ohne Statistik)", statistics=False)
    steps.assess_every_case(site)

    page = journey.new_page()
    steps.log_in_as(page, site.login(steps.COORDINATOR))

    # The team: the demo's officer and the coordinator themself.
    open_area(page, "Team", "Team der Clearingstelle")
    accounts = page.get_by_role("table", name="Konten Ihrer Kommune")

    def account_row(login: str) -> Locator:
        return accounts.get_by_role("row").filter(has=page.get_by_role("cell", name=login, exact=True))

    expect(account_row(steps.OFFICER)).to_contain_text("Demo-Fachkraft")
    expect(account_row(steps.COORDINATOR)).to_contain_text("aktiv (Ihr Konto)")

    # The alliance agreement the demo installed is the active version.
    open_area(page, "Vereinbarungen", "Bündnisvereinbarungen")
    expect(page.get_by_text(re.compile(r"^Aktiv ist Version 1 vom "))).to_be_visible()
    expect(page.get_by_role("textbox", name=re.compile("Vereinbarung"))).to_contain_text("opferberatung")

    # The job status: nothing failed for good.
    open_area(page, "Systemstatus", "Systemstatus")
    expect(page.get_by_text(re.compile(r"^Aufträge in Warteschlange: \d+$"))).to_be_visible()
    expect(page.get_by_text("Keine. Alle Aufträge wurden ausgeführt oder werden noch versucht.")).to_be_visible()

    # The statistics: the demo's last count predates the reports, so there are no numbers yet.
    year = date.today().year
    open_area(page, "Statistik", f"Statistik Musterstadt {year}")
    expect(page.get_by_text("Für diesen Zeitraum liegen keine Zahlen vor.")).to_be_visible()

    # The hourly refresh job runs; the same page now counts the consented, assessed reports.
    site.run_job("statistics")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Statistik Musterstadt {year}")
    expect(page.get_by_text(re.compile(r"^Stand der Zahlen: "))).to_be_visible()
    quarter = f"{year}-Q{(date.today().month - 1) // 3 + 1}"
    cases = steps.table_row(page, "Fälle insgesamt nach Quartal", "Fälle")
    expect(cases.get_by_role("cell")).to_have_text([str(COUNTED_REPORTS), str(COUNTED_REPORTS)])
    expect(page.get_by_role("table", name="Fälle insgesamt nach Quartal").get_by_role("columnheader")).to_have_text(
        ["Kategorie", quarter, "Summe"]
    )
    insults = steps.table_row(page, "Art des Vorfalls nach Quartal", "Beleidigung oder Verleumdung")
    expect(insults.get_by_role("cell")).to_have_text([str(COUNTED_REPORTS), str(COUNTED_REPORTS)])
    steps.checked(page, "the statistics after the refresh")
