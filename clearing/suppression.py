"""Small-cell suppression for statistics tables: primary cells under the threshold, then complements.

A table is treated with its margins: the row totals, the column totals and the grand total are
cells too, and every row and column of that extended table is an equation an outsider can use.
Primary cells (1 .. threshold-1) are shown as "<threshold". Complementary cells are hidden as "•"
until every line that hides anything hides at least two cells, one of them a complement large
enough that the line's equation leaves every hidden primary cell ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_THRESHOLD = 3
DEFAULT_THRESHOLD = 5

Position = tuple[int, int]


@dataclass(frozen=True)
class ProtectedTable:
    """An (n+1) x (m+1) table: cells[i][j] with the last row and column holding the totals."""

    values: tuple[tuple[int, ...], ...]
    primary: frozenset[Position]
    complementary: frozenset[Position]
    threshold: int

    def shown(self, i: int, j: int) -> str:
        if (i, j) in self.primary:
            return f"<{self.threshold}"
        if (i, j) in self.complementary:
            return "•"
        return str(self.values[i][j])

    def hidden(self, i: int, j: int) -> bool:
        return (i, j) in self.primary or (i, j) in self.complementary


def extend(matrix: list[list[int]]) -> list[list[int]]:
    """The matrix with a totals column and a totals row."""
    rows = [[*row, sum(row)] for row in matrix]
    width = len(rows[0]) if rows else 1
    totals = [sum(row[j] for row in rows) for j in range(width)]
    return [*rows, totals]


def _lines(n: int, m: int) -> list[list[Position]]:
    return [[(i, j) for j in range(m)] for i in range(n)] + [[(i, j) for i in range(n)] for j in range(m)]


def protect(matrix: list[list[int]], threshold: int = DEFAULT_THRESHOLD) -> ProtectedTable:
    """Suppress small cells and enough complements; deterministic for the same input."""
    threshold = max(threshold, MIN_THRESHOLD)
    cells = extend(matrix) if matrix and matrix[0] else [[0]]
    n, m = len(cells), len(cells[0])
    primary = {(i, j) for i in range(n) for j in range(m) if 0 < cells[i][j] < threshold}
    hidden = set(primary)
    lines = _lines(n, m)
    changed = True
    while changed:
        changed = False
        for line in lines:
            in_line = [p for p in line if p in hidden]
            if not in_line:
                continue
            # A line is safe once it hides a complement of at least threshold+1 (so a hidden primary
            # cell next to it keeps two or more possible values) besides its other hidden cells.
            has_big_complement = any(p not in primary and cells[p[0]][p[1]] > threshold for p in in_line)
            if len(in_line) >= 2 and has_big_complement:
                continue
            candidate = _best_complement(cells, line, hidden, primary, lines, threshold)
            if candidate is None:
                continue
            hidden.add(candidate)
            changed = True
    return ProtectedTable(tuple(tuple(r) for r in cells), frozenset(primary), frozenset(hidden - primary), threshold)


def _best_complement(cells: list[list[int]], line: list[Position], hidden: set[Position], primary: set[Position], lines: list[list[Position]], threshold: int) -> Position | None:
    options = [p for p in line if p not in hidden]
    if not options:
        return None
    n, m = len(cells), len(cells[0])

    def cost(p: Position) -> tuple[int, int, int, int, int]:
        value = cells[p[0]][p[1]]
        is_total = int(p[0] == n - 1 or p[1] == m - 1)
        # Prefer a cell whose other line already hides something: fewer new lines to protect.
        other = [ln for ln in lines if p in ln and ln is not line]
        pairs = int(not any(q in hidden for ln in other for q in ln))
        too_small = int(value <= threshold)
        return (too_small, is_total, pairs, value, p[0] * m + p[1])

    return min(options, key=cost)
