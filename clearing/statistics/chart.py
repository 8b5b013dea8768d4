"""Bar charts of the statistics tables: which tables earn one, and the geometry the template draws.

The chart is an SVG laid out in em and percent, so its text is the page's body text (it follows
the reader's font size and zoom) and every bar is measured on one axis that starts at zero.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

from clearing.statistics.service import Table

# Characters per label line: fits a 320 px wide screen at body size, so the chart never scrolls sideways.
LABEL_WIDTH = 26
# The axis takes this share of the chart's width; the rest holds the number after the longest bar.
AXIS_PERCENT = 78.0
LINE_EM = 1.35
BAR_EM = 1.1
ROW_GAP_EM = 0.9


@dataclass(frozen=True)
class Bar:
    """One category: its label lines, the number as the table shows it, and where it is drawn."""

    lines: tuple[str, ...]
    shown: str
    # The bar's length in percent of the chart's width; None: the value is protected, drawn without a bar.
    percent: float | None
    label_y: float
    bar_y: float

    @property
    def value_x(self) -> float:
        """Where the number starts: after the bar, or at the axis when there is none."""
        return self.percent or 0.0


@dataclass(frozen=True)
class BarChart:
    """The totals of one table as horizontal bars on a common axis."""

    bars: tuple[Bar, ...]
    height: float
    largest_label: str
    largest_value: int
    protected: int
    line_em: float = LINE_EM  # the distance between a label's wrapped lines, as the template draws them


def bar_chart(table: Table, labels: Mapping[str, object]) -> BarChart | None:
    """The year's totals per category as bars, or None where a chart would show no more than the table.

    A table with one category (the case count) or fewer than two shown totals has nothing to compare.
    """
    p, m = table.protected, len(table.periods)
    rows = range(len(table.codes))
    visible = [i for i in rows if not p.hidden(i, m)]
    if len(table.codes) < 2 or len(visible) < 2:
        return None
    largest = max(visible, key=lambda i: p.values[i][m])
    scale = p.values[largest][m]
    if scale <= 0:
        return None
    bars: list[Bar] = []
    y = 0.0
    for i in rows:
        name = str(labels.get(table.codes[i], table.codes[i]))
        lines = tuple(textwrap.wrap(name, LABEL_WIDTH, break_long_words=False)) or (name,)
        label_y = y + 1.0
        bar_y = y + len(lines) * LINE_EM + 0.2
        percent = None if p.hidden(i, m) else round(AXIS_PERCENT * p.values[i][m] / scale, 2)
        bars.append(Bar(lines, p.shown(i, m), percent, round(label_y, 2), round(bar_y, 2)))
        y = bar_y + BAR_EM + ROW_GAP_EM
    return BarChart(
        bars=tuple(bars),
        height=round(y, 2),
        largest_label=str(labels.get(table.codes[largest], table.codes[largest])),
        largest_value=scale,
        protected=len(table.codes) - len(visible),
    )
