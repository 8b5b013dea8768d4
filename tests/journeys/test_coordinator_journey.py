"""Journey 4: the coordinator logs in with TOTP and goes through the team (deactivating and taking back
a colleague), the office's notification address, agreements, job status and the statistics, which show
the reports sent through the form once the statistics refresh job ran."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Locator, Page, expect

from clearing.demo import DEMO_ACCOUNTS, DEMO_SLUG
from tests.journeys import steps
from tests.journeys.conftest import Journey
from tests.journeys.site import Site

# At the demo's threshold of 5 a count of 6 is shown as it is; the seventh report has no
# statistics consent and must not be counted.
COUNTED_REPORTS = 6
SECOND_OFFICER = DEMO_ACCOUNTS[2][0]
OFFICE_ADDRESS = "clearingstelle@musterstadt.example"
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

    # A colleague leaves: the second officer is deactivated (after a confirmation page), then taken back.
    second = account_row(SECOND_OFFICER)
    second.get_by_role("link", name="Deaktivieren").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("deaktivieren?")
    steps.checked(page, "the deactivation's confirmation page")
    page.get_by_role("button", name="Ja, Konto deaktivieren").click()
    expect(page.get_by_role("status")).to_contain_text("ist deaktiviert. Alle Sitzungen wurden beendet.")
    expect(second).to_contain_text("deaktiviert")
    steps.checked(page, "the team page after a deactivation")
    second.get_by_role("button", name="Wieder aktivieren").click()
    expect(page.get_by_role("status")).to_contain_text("ist wieder aktiv")
    expect(second.get_by_role("link", name="Deaktivieren")).to_be_visible()
    steps.checked(page, "the team page after a reactivation")

    # The office's shared address for notifications, confirmed by the link mailed to it.
    open_area(page, "Benachrichtigungen", "Benachrichtigungsadresse der Clearingstelle")
    page.get_by_label("Neue Adresse der Clearingstelle").fill(OFFICE_ADDRESS)
    page.get_by_role("button", name="Bestätigungslink senden").click()
    expect(page.get_by_text(f"Wartet auf Bestätigung: {OFFICE_ADDRESS}")).to_be_visible()
    steps.checked(page, "the office address page, address pending")
    link = steps.CONFIRM_LINK_RE.search(site.wait_for_mail(to=OFFICE_ADDRESS).text)
    assert link, "the confirmation mail carries its link"
    page.goto(link.group(0))
    steps.checked(page, "the confirmation page")
    page.get_by_role("button", name="Adresse bestätigen").click()
    expect(page.get_by_role("status")).to_contain_text(f"Clearingstelle gehen jetzt an {OFFICE_ADDRESS}")
    steps.checked(page, "the confirmed address")
    open_area(page, "Benachrichtigungen", "Benachrichtigungsadresse der Clearingstelle")
    expect(page.get_by_text(f"Bestätigte Adresse: {OFFICE_ADDRESS}")).to_be_visible()

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
