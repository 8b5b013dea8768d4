"""The statistics pages in a real browser: axe-core finds no WCAG 2.1 A/AA violation, the charts are
accessible SVG (role, title, description, the table beside them), legible (labels at body-text size,
inside the chart) and to scale (bars proportional to the table's totals, protected totals without a
bar), on screen, on a phone and in print; and everything works without JS."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from clearing.cases.models import Assessment, AssessmentCode
from clearing.demo import DEMO_SLUG
from clearing.statistics import service as statistics
from core.accounts import create_account
from core.app import state
from core.db import session_scope
from core.models import Municipality
from reporting.service import NewReport, submit_report
from tests.browser.axe import check_accessibility
from tests.browser.steps import COORDINATOR, log_in

pytestmark = pytest.mark.browser

YEAR = date.today().year - 1
OPERATOR = ("netzwerk-statistik", "netzwerk-passwort-statistik")
# (month, number of cases, confirmed incident type, motive, affected role, channel, urgency)
CASES = [
    (1, 6, "threat", "racism", "council_member", "public_space", "normal"),
    (2, 2, "insult_defamation", "misogyny", "mayor", "email", "high"),
    (5, 7, "threat", "political_engagement", "council_member", "social_media", "normal"),
    (8, 5, "hate_speech", "racism", "admin_staff", "social_media", "low"),
    (11, 1, "doxxing", "antisemitism", "frontline_staff", "office", "acute"),
]


def _report(role: str, channel: str) -> NewReport:
    content = {"reporter_role": "affected", "affected_role": role, "channel": channel, "perpetrator": "unknown", "incident_types": ["other"],
               "motives": ["unknown"], "description": "Für die Statistik.", "contact": "mailbox", "acute_danger": False}  # fmt: skip
    return NewReport(
        affected_role=role, channel=channel, incident_types=["other"], motives=["unknown"], perpetrator="unknown", acute_danger=False,
        incident_month=None, consents={"statistics": True}, content=content,
    )  # fmt: skip


@pytest.fixture(scope="module")
def statistics_data(live_app: Flask) -> None:
    """Assessed cases of the demo municipality in the last year (the assessment's codes set as the
    officer's form would, without notes), published to the network; and a network operator."""
    komma = state(live_app)
    with session_scope(komma.session_factory) as session:
        municipality = session.scalar(select(Municipality).where(Municipality.slug == DEMO_SLUG))
        assert municipality is not None
        municipality.statistics_opt_in = True
        for month, number, incident, motive, role, channel, urgency in CASES:
            for n in range(number):
                case = submit_report(session, komma.config, municipality, _report(role, channel)).case
                case.received_at = datetime(YEAR, month, 3 + n, 10, tzinfo=UTC)
                case.status, case.urgency = "assessed", urgency
                assessment = Assessment(case_id=case.id, urgency=urgency, escalation_level=1)
                assessment.codes = [
                    AssessmentCode(kind="incident_type", code=incident),
                    AssessmentCode(kind="motive", code=motive),
                ]
                session.add(assessment)
                session.flush()
        create_account(
            session,
            komma.config,
            login=OPERATOR[0],
            role="network_operator",
            municipality_id=None,
            password=OPERATOR[1],
            totp_confirmed=True,
        )
        statistics.refresh(session)


# Per chart: the body's font size, and per category its label, bar length, number and text sizes.
READ_CHARTS = """() => {
    const body = parseFloat(getComputedStyle(document.body).fontSize);
    return [...document.querySelectorAll('figure.chart svg')].map(svg => {
        const box = svg.getBoundingClientRect();
        const rows = [];
        for (const el of svg.children) {
            if (el.matches('text.chart-label')) {
                rows.push({label: [...el.childNodes].map(n => n.textContent.trim()).join(' '), bar: null, value: null, sizes: [], right: 0});
            }
            const row = rows[rows.length - 1];
            if (!row) continue;
            if (el.matches('rect.chart-bar')) row.bar = el.getBoundingClientRect().width;
            if (el.matches('text.chart-value')) row.value = el.textContent.trim();
            if (el.matches('text')) {
                row.sizes.push(parseFloat(getComputedStyle(el).fontSize));
                row.right = Math.max(row.right, el.getBoundingClientRect().right - box.right);
            }
        }
        return {body, rows, section: svg.closest('section').querySelector('h2, h3').id};
    });
}"""


def check_charts(page: Page) -> int:
    """Every chart: an SVG with role img named by its own title and description, beside its table;
    labels at least body size and inside the chart; bars proportional to the table's totals, and
    protected totals shown as such, without a bar."""
    charts = page.locator("figure.chart svg")
    count = charts.count()
    assert count > 0
    for i in range(count):
        svg = charts.nth(i)
        expect(svg).to_have_attribute("role", "img")
        title, desc = svg.locator("> title"), svg.locator("> desc")
        expect(title).to_have_count(1)
        expect(desc).to_have_count(1)
        assert svg.get_attribute("aria-labelledby") == f"{title.get_attribute('id')} {desc.get_attribute('id')}"
        assert title.text_content()
        assert desc.text_content()
    for chart in page.evaluate(READ_CHARTS):
        section = page.locator("section.stats-block", has=page.locator(f"[id='{chart['section']}']"))
        table = section.get_by_role("table")
        expect(table).to_have_count(1)
        expect(table.locator("caption")).not_to_be_empty()
        scales = []
        for row in chart["rows"]:
            assert min(row["sizes"]) >= chart["body"], f"chart text smaller than body text: {row}"
            assert row["right"] <= 1, f"chart text runs out of the chart: {row}"
            header = page.get_by_role("rowheader", name=row["label"], exact=True)
            total = table.get_by_role("row").filter(has=header).locator("td").last.inner_text()
            if total.isdigit():
                assert row["bar"] is not None
                assert row["value"] == total
                scales.append((row["bar"], int(total)))
            else:
                assert row["bar"] is None, f"a protected total drawn as a bar: {row}"
                assert row["value"] == f"{total} (geschützt)"
        assert len(scales) >= 2
        per_case = max(scales, key=lambda s: s[1])[0] / max(n for _w, n in scales)
        for width, n in scales:
            assert width == pytest.approx(n * per_case, abs=1.0), f"bar of {n} is {width}px, not to scale"
    ids = page.evaluate("() => [...document.querySelectorAll('[id]')].map(e => e.id)")
    assert len(ids) == len(set(ids)), "ids are unique"
    return count


def test_municipality_dashboard_and_annual_report(page: Page, live_app: Flask, statistics_data: None) -> None:
    log_in(page, live_app, *COORDINATOR)
    page.goto(f"/statistik?jahr={YEAR}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Statistik Musterstadt {YEAR}")
    cases = page.get_by_role("table", name=re.compile("^Fälle insgesamt"))
    expect(cases.get_by_role("row", name=re.compile("^Fälle"))).to_contain_text("21")
    expect(page.get_by_role("img", name=re.compile("^Balkendiagramm: Art des Vorfalls"))).to_have_count(1)
    # No referrals: no partner kinds, no outcomes. The case count is one number: a table, no chart.
    expect(page.locator("section.stats-block")).to_have_count(len(statistics.DIMENSIONS) - 2)
    # Charts only where at least two totals can be compared: the case count is one number, and the
    # roles, channels and urgencies each show one total beside protected ones.
    assert check_charts(page) == 2
    assert [c["section"] for c in page.evaluate(READ_CHARTS)] == ["t-incident_type", "t-motive"]
    fälle = page.get_by_role("region", name="Fälle insgesamt")
    expect(fälle.get_by_role("img")).to_have_count(0)
    expect(page.locator("td", has_text="<5").first).to_be_visible()
    check_accessibility(page, "the municipality's statistics by quarter")
    page.goto(f"/statistik/jahresbericht?jahr={YEAR}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Jahresbericht {YEAR} der Meldestelle Musterstadt")
    check_charts(page)
    check_accessibility(page, "the annual report")
    page.emulate_media(media="print")
    check_charts(page)
    expect(page.get_by_role("img", name=re.compile("^Balkendiagramm: Motiv"))).to_be_visible()
    check_accessibility(page, "the annual report, printed")


def test_charts_fit_a_phone(page: Page, live_app: Flask, statistics_data: None) -> None:
    """At 320 px the labels wrap inside the chart, still at body size, and nothing scrolls sideways."""
    log_in(page, live_app, *COORDINATOR)
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto(f"/statistik/jahresbericht?jahr={YEAR}")
    check_charts(page)
    overflow = page.evaluate(
        "() => [...document.querySelectorAll('figure.chart svg')].some(s => s.getBoundingClientRect().right > innerWidth)"
    )
    assert not overflow


def test_network_dashboard(page: Page, live_app: Flask, statistics_data: None) -> None:
    log_in(page, live_app, *OPERATOR)
    page.goto(f"/netzwerk/statistik?jahr={YEAR}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Netzwerkstatistik {YEAR}")
    expect(page.get_by_role("columnheader", name="Modellkommunen").first).to_be_visible()
    expect(page.get_by_role("columnheader", name="Plattformkommunen").first).to_be_visible()
    # The groups' totals are the quarters' totals: charted once, above, and not again per group.
    assert [c["section"] for c in page.evaluate(READ_CHARTS)] == ["t-alle-incident_type", "t-alle-motive"]
    check_charts(page)
    expect(page.locator("[id^='c-gruppen-']")).to_have_count(0)
    check_accessibility(page, "the network's statistics")


def test_dashboard_works_without_javascript(nojs_page: Page, live_app: Flask, statistics_data: None) -> None:
    page = nojs_page
    log_in(page, live_app, *COORDINATOR)
    page.goto("/statistik")
    page.get_by_label("Jahr").select_option(str(YEAR))
    page.get_by_role("button", name="Anzeigen").click()
    expect(page).to_have_url(re.compile(rf"jahr={YEAR}"))
    expect(
        page.get_by_role("table", name=re.compile("^Fälle insgesamt")).get_by_role("columnheader", name=f"{YEAR}-Q2")
    ).to_be_visible()
    check_charts(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Als CSV herunterladen").click()
    download = download_info.value
    assert download.suggested_filename == f"statistik-{DEMO_SLUG}-{YEAR}.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert ["cases", "all", "total", "21"] in rows
    page.get_by_role("link", name="Jahresbericht zum Drucken").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Jahresbericht {YEAR} der Meldestelle Musterstadt")
