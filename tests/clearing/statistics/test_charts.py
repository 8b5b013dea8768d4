"""The bar charts: drawn only where they compare categories, to scale, protected totals without a bar."""

from __future__ import annotations

import pytest

from clearing.statistics.chart import AXIS_PERCENT, LABEL_WIDTH, bar_chart
from clearing.statistics.service import Table
from clearing.statistics.suppression import protect

LABELS = {
    "threat": "Bedrohung",
    "insult": "Beleidigung",
    "doxxing": "Veröffentlichung persönlicher Daten",
    "staff": "Beschäftigte oder Beschäftigter mit Publikumsverkehr (z. B. Bürgerbüro)",
}


def _table(dimension: str, rows: dict[str, list[int]], threshold: int = 5) -> Table:
    return Table(dimension, ["2025-Q1", "2025-Q2"], list(rows), protect(list(rows.values()), threshold))


def test_bars_are_proportional_to_the_totals_on_one_axis() -> None:
    chart = bar_chart(_table("incident_type", {"threat": [10, 10], "insult": [5, 5]}), LABELS)
    assert chart is not None
    threat, insult = chart.bars
    assert (threat.shown, insult.shown) == ("20", "10")
    assert threat.percent == AXIS_PERCENT
    assert insult.percent == pytest.approx(AXIS_PERCENT / 2)
    assert (chart.largest_label, chart.largest_value, chart.protected) == ("Bedrohung", 20, 0)


def test_a_protected_total_has_no_bar_and_says_so() -> None:
    rows = {"threat": [10, 10], "insult": [6, 6], "staff": [8, 8], "doxxing": [1, 0]}
    table = _table("incident_type", rows)
    chart = bar_chart(table, LABELS)
    assert chart is not None
    hidden = [i for i in range(len(rows)) if table.protected.hidden(i, 2)]
    assert 3 in hidden
    assert chart.protected == len(hidden)
    for i, bar in enumerate(chart.bars):
        if i in hidden:
            assert bar.percent is None
            assert bar.shown in ("<5", "•")
        else:
            assert bar.percent == pytest.approx(AXIS_PERCENT * sum(rows[table.codes[i]]) / 20, abs=0.01)


def test_no_chart_where_it_would_show_no_more_than_the_table() -> None:
    assert bar_chart(_table("cases", {"all": [10, 12]}), {}) is None
    assert bar_chart(_table("incident_type", {"threat": [10, 12], "insult": [1, 1]}), LABELS) is None


def test_long_labels_wrap_and_rows_never_overlap() -> None:
    chart = bar_chart(_table("affected_role", {"staff": [10, 10], "threat": [8, 8]}), LABELS)
    assert chart is not None
    staff, threat = chart.bars
    assert len(staff.lines) > 1
    assert all(len(line) <= LABEL_WIDTH for line in staff.lines)
    assert " ".join(staff.lines) == LABELS["staff"]
    assert staff.label_y < staff.bar_y < threat.label_y < threat.bar_y < chart.height
