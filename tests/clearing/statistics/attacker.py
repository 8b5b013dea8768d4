"""The attacker of the small-cell suppression tests: what a protected table shows, as equations,
and every value a hidden cell can take in some table consistent with it.

The attacker: knows every shown value exactly; knows that a "<t" cell lies in 1..t-1 and that a "•"
cell is 0 or at least t (so knows which hidden cells are small and that complements never are);
knows every row and column equation of the table with its totals (totals can be hidden too). It
enumerates, by exact integer search (interval propagation over the line equations, then
branching), every value each primary cell can take in some table consistent with all of that.

The search needs a bound on hidden cells. When the grand total is shown it is the bound (every
cell is at most the grand total, which the equations imply anyway). When it is hidden the attacker
is granted a bound they do not really have: the true grand total plus the threshold. Limiting the
attacker's candidate tables only makes the property harder to satisfy: two values found within the
bound are two values without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.statistics.suppression import ProtectedTable

Position = tuple[int, int]


@dataclass(frozen=True)
class Knowledge:
    """What the table shows, as the attacker's constraint system over the hidden cells."""

    hidden: list[Position]
    complementary: list[bool]  # per hidden cell: "•" (0 or >= t) rather than "<t" (1..t-1)
    equations: list[tuple[list[tuple[int, int]], int]]  # sum(coef * x[var]) == const
    threshold: int
    bound: int


def knowledge(table: ProtectedTable) -> Knowledge:
    values = table.values
    n, m = len(values), len(values[0])
    t = table.threshold
    hidden = [(i, j) for i in range(n) for j in range(m) if table.hidden(i, j)]
    index = {p: k for k, p in enumerate(hidden)}
    lines = [[(i, j) for j in range(m)] for i in range(n)] + [[(i, j) for i in range(n)] for j in range(m)]
    equations = []
    for *inner, total in lines:
        terms, const = [], 0
        for p, coef in [*((q, 1) for q in inner), (total, -1)]:
            if p in index:
                terms.append((index[p], coef))
            else:
                const -= coef * int(table.shown(*p))
        if terms:
            equations.append((terms, const))
        else:
            assert const == 0, "the shown values of a line must add up"
    grand = (n - 1, m - 1)
    bound = values[n - 1][m - 1] + (t if table.hidden(*grand) else 0)
    return Knowledge(hidden, [p in table.complementary for p in hidden], equations, t, bound)


def _bounds(terms: list[tuple[int, int]], lo: list[int], hi: list[int]) -> tuple[int, int]:
    return sum(lo[v] if c > 0 else -hi[v] for v, c in terms), sum(hi[v] if c > 0 else -lo[v] for v, c in terms)


def _propagate(k: Knowledge, lo: list[int], hi: list[int]) -> bool:
    """Tighten every hidden cell's interval by the equations; False if none is left."""
    t = k.threshold
    changed = True
    while changed:
        changed = False
        for terms, const in k.equations:
            for v, c in terms:
                smin, smax = _bounds(terms, lo, hi)
                if smin > const or smax < const:
                    return False
                own_min, own_max = (lo[v], hi[v]) if c > 0 else (-hi[v], -lo[v])
                low, high = const - (smax - own_max), const - (smin - own_min)  # range of c * x[v]
                new_lo, new_hi = (max(lo[v], low), min(hi[v], high)) if c > 0 else (max(lo[v], -high), min(hi[v], -low))
                if k.complementary[v]:  # 0 or at least t: no value in 1..t-1
                    if new_lo >= 1:
                        new_lo = max(new_lo, t)
                    if new_hi < t:
                        new_hi = min(new_hi, 0)
                if new_lo > new_hi:
                    return False
                if (new_lo, new_hi) != (lo[v], hi[v]):
                    lo[v], hi[v] = new_lo, new_hi
                    changed = True
    return True


def _feasible(k: Knowledge, lo: list[int], hi: list[int]) -> bool:
    lo, hi = list(lo), list(hi)
    if not _propagate(k, lo, hi):
        return False
    open_cells = [v for v in range(len(lo)) if lo[v] < hi[v]]
    if not open_cells:
        return True  # every cell fixed and every equation holds (propagation checked them)
    v = min(open_cells, key=lambda w: (hi[w] - lo[w], w))
    if k.complementary[v] and lo[v] == 0:
        branches = [(0, 0), (k.threshold, hi[v])]
    else:
        middle = (lo[v] + hi[v]) // 2
        branches = [(lo[v], middle), (middle + 1, hi[v])]
    for a, b in branches:
        lo2, hi2 = list(lo), list(hi)
        lo2[v], hi2[v] = a, b
        if _feasible(k, lo2, hi2):
            return True
    return False


def possible_values(k: Knowledge, var: int) -> list[int]:
    """Every value the hidden cell can take in a table consistent with everything shown."""
    lo = [0 if comp else 1 for comp in k.complementary]
    hi = [k.bound if comp else k.threshold - 1 for comp in k.complementary]
    found = []
    for value in range(lo[var], hi[var] + 1):
        lo2, hi2 = list(lo), list(hi)
        lo2[var] = hi2[var] = value
        if _feasible(k, lo2, hi2):
            found.append(value)
    return found
