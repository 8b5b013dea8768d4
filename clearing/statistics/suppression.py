"""Small-cell suppression for statistics tables: primary cells under the threshold, then complements.

A table is treated with its margins: the row totals, the column totals and the grand total are
cells too, and every row and column of that extended table is an equation an outsider can use.
Primary cells (1 .. threshold-1) are shown as "<threshold". Complementary cells are hidden as "•"
until every line that hides anything hides at least two cells, one of them a complement large
enough that the line's equation leaves every hidden primary cell ambiguous.

That line rule alone is not enough: an outsider who knows that "<t" means 1..t-1 and "•" means 0
or at least t can still pin a primary cell through several lines at once (two primary cells on a
rectangle with two complements move together and may run out of room). So every primary cell is
then audited: it must lie on a cycle of hidden cells (alternating between its row and column
equations) along which a shift by one keeps every cell in the range the outsider knows for it; a
second table, equal in everything shown, then differs in that cell. Where no such cycle exists,
the cheapest path over shown cells is hidden as well (fewest new cells, then no totals, then the
smallest values; ties by position, so the result is deterministic). A table in which some primary
cell has no such cycle even with every cell hidden (e.g. a row "1, 1" with total 2 at threshold 3:
two cells of 1..2 that sum to at most 2 are both 1) is withheld as a whole: every cell "•".
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

# The policy: counts from 1 to THRESHOLD-1 are never shown. A municipality may choose its own
# threshold; the network uses the highest of its members', and never less than this.
THRESHOLD = 5
# The lowest threshold that protects anything: "<t" must leave at least two values (1 .. t-1).
MIN_THRESHOLD = 3
# A withheld table shows every cell as "•" (the legend: hidden so that small values cannot be worked
# out from the totals). Only a withheld table is all "•": any other table that hides anything shows
# its small cells as "<t".
WITHHELD = "•"

Position = tuple[int, int]


def threshold_for(chosen: int | None) -> int:
    """A municipality's threshold: its own choice (Municipality.statistics_threshold), else the policy."""
    return max(THRESHOLD if chosen is None else chosen, MIN_THRESHOLD)


def network_threshold(chosen: Iterable[int | None]) -> int:
    """The network's threshold: the highest of the participating municipalities', at least the policy."""
    return max([threshold_for(c) for c in chosen] + [THRESHOLD])


@dataclass(frozen=True)
class ProtectedTable:
    """An (n+1) x (m+1) table: cells[i][j] with the last row and column holding the totals."""

    values: tuple[tuple[int, ...], ...]
    primary: frozenset[Position]
    complementary: frozenset[Position]
    threshold: int
    # Too small to show any breakdown without revealing a small cell: every cell is withheld.
    withheld: bool = False

    def shown(self, i: int, j: int) -> str:
        if self.withheld:
            return WITHHELD
        if (i, j) in self.primary:
            return f"<{self.threshold}"
        if (i, j) in self.complementary:
            return "•"
        return str(self.values[i][j])

    def hidden(self, i: int, j: int) -> bool:
        return self.withheld or (i, j) in self.primary or (i, j) in self.complementary


def extend(matrix: list[list[int]]) -> list[list[int]]:
    """The matrix with a totals column and a totals row."""
    rows = [[*row, sum(row)] for row in matrix]
    width = len(rows[0]) if rows else 1
    totals = [sum(row[j] for row in rows) for j in range(width)]
    return [*rows, totals]


def _lines(n: int, m: int) -> list[list[Position]]:
    return [[(i, j) for j in range(m)] for i in range(n)] + [[(i, j) for i in range(n)] for j in range(m)]


def protect(
    matrix: list[list[int]],
    threshold: int = THRESHOLD,
    forced: frozenset[Position] = frozenset(),
    frozen: frozenset[Position] = frozenset(),
) -> ProtectedTable:
    """Suppress small cells and enough complements; deterministic for the same input.

    `forced` cells (positions in the extended table) are hidden as complements from the start:
    a number that another table on the same page hides must not be shown here. `frozen` cells are
    shown by another table, so they may not be hidden here either (clearing.statistics._protect_page).
    """
    threshold = max(threshold, MIN_THRESHOLD)
    cells = extend(matrix) if matrix and matrix[0] else [[0]]
    n, m = len(cells), len(cells[0])
    primary = {(i, j) for i in range(n) for j in range(m) if 0 < cells[i][j] < threshold}
    hidden = set(primary) | {(i, j) for i, j in forced if i < n and j < m}
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
            candidate = _best_complement(cells, line, hidden | frozen, primary, lines, threshold)
            if candidate is None:
                continue
            hidden.add(candidate)
            changed = True
    withheld = not _protect_cycles(cells, hidden, primary, threshold, frozen - hidden)
    return ProtectedTable(
        tuple(tuple(r) for r in cells), frozenset(primary), frozenset(hidden - primary), threshold, withheld
    )


def _best_complement(
    cells: list[list[int]],
    line: list[Position],
    hidden: set[Position],
    primary: set[Position],
    lines: list[list[Position]],
    threshold: int,
) -> Position | None:
    # Zeros are always shown: a hidden zero protects nothing (it cannot move by one and stay 0 or >= t).
    options = [p for p in line if p not in hidden and cells[p[0]][p[1]] != 0]
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


# The audit -----------------------------------------------------------------------------------------
#
# With the totals' signs flipped (a row or column total counts as -x, the grand total as +x), every
# row and column of the extended table sums to zero. A hidden cell (i, j) is an edge between row
# node i and column node j; adding +1 along an alternating cycle of edges (row to column: +1,
# column to row: -1) keeps every equation. A cycle through a primary cell whose every cell can take
# its shift is a second table consistent with everything shown in which that cell differs.


def _sign(n: int, m: int, p: Position) -> int:
    """+1 for inner cells and the grand total, -1 for the row and column totals."""
    return -1 if (p[0] == n - 1) != (p[1] == m - 1) else 1


def _can_move(cells: list[list[int]], primary: set[Position], threshold: int, p: Position, step: int) -> bool:
    """Whether the cell may change by step (+-1) and stay in the range an outsider knows for it."""
    value = cells[p[0]][p[1]] + step
    if p in primary:
        return 1 <= value <= threshold - 1
    # A complement (or a shown cell about to become one): 0 or at least the threshold; a shift of
    # one never leaves 0 to land in 1..threshold-1, so zeros take no part in a cycle.
    return cells[p[0]][p[1]] >= threshold and value >= threshold


Cost = tuple[int, int, int]


def _cheapest_cycle(
    cells: list[list[int]],
    hidden: set[Position],
    primary: set[Position],
    threshold: int,
    p: Position,
    step: int,
    frozen: frozenset[Position] = frozenset(),
) -> tuple[Cost, list[Position]] | None:
    """The shown cells to hide (and their cost) so that p lies on a feasible cycle shifting it by step."""
    n, m = len(cells), len(cells[0])
    if not _can_move(cells, primary, threshold, p, step):
        return None
    flow = step * _sign(n, m, p)
    # flow +1 on p runs row -> column, so the cycle returns from p's column to p's row (else reversed).
    start, goal = (("c", p[1]), ("r", p[0])) if flow > 0 else (("r", p[0]), ("c", p[1]))
    best: dict[tuple[str, int], Cost] = {start: (0, 0, 0)}
    back: dict[tuple[str, int], tuple[tuple[str, int], Position]] = {}
    queue: list[tuple[Cost, tuple[str, int]]] = [((0, 0, 0), start)]
    while queue:
        cost, node = heapq.heappop(queue)
        if cost > best.get(node, cost):
            continue
        if node == goal:
            path = []
            while node != start:
                node, cell = back[node]
                path.append(cell)
            return cost, sorted(q for q in path if q not in hidden)
        kind, k = node
        for other in range(m if kind == "r" else n):
            q = (k, other) if kind == "r" else (other, k)
            if q == p or (q in frozen and q not in hidden):
                continue
            # Leaving a row node along a cell is +1 flow on it, leaving a column node is -1.
            move = (1 if kind == "r" else -1) * _sign(n, m, q)
            if not _can_move(cells, primary, threshold, q, move):
                continue
            new = int(q not in hidden)
            is_total = int(new and (q[0] == n - 1 or q[1] == m - 1))
            step_cost = (cost[0] + new, cost[1] + is_total, cost[2] + new * cells[q[0]][q[1]])
            target = ("c", other) if kind == "r" else ("r", other)
            if step_cost < best.get(target, (1 << 30, 0, 0)):
                best[target] = step_cost
                back[target] = (node, q)
                heapq.heappush(queue, (step_cost, target))
    return None


def _protect_cycles(
    cells: list[list[int]],
    hidden: set[Position],
    primary: set[Position],
    threshold: int,
    frozen: frozenset[Position] = frozenset(),
) -> bool:
    """Hide more cells until every primary cell lies on a feasible cycle; False if one never can.

    Hiding a cell only adds edges, so a cycle found for one primary cell stays valid for it.
    """
    for p in sorted(primary):
        options = [
            c
            for c in (_cheapest_cycle(cells, hidden, primary, threshold, p, s, frozen) for s in (1, -1))
            if c is not None
        ]
        if not options:
            return False
        hidden.update(min(options)[1])
    return True
