"""Small-cell suppression: an outsider who knows everything shown cannot pin a suppressed small cell.

The attacker and the exact search over what a table shows are in tests/clearing/statistics/attacker.py.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from clearing.statistics.suppression import (
    MIN_THRESHOLD,
    THRESHOLD,
    WITHHELD,
    ProtectedTable,
    extend,
    network_threshold,
    protect,
    threshold_for,
)
from tests.clearing.statistics.attacker import knowledge, possible_values


def shown_grid(table: ProtectedTable) -> list[list[str]]:
    return [[table.shown(i, j) for j in range(len(table.values[0]))] for i in range(len(table.values))]


# The property -----------------------------------------------------------------------------------

small_counts = st.one_of(st.integers(0, 6), st.integers(0, 15))
matrices = st.integers(1, 4).flatmap(lambda rows: st.integers(1, 4).flatmap(
    lambda cols: st.lists(st.lists(small_counts, min_size=cols, max_size=cols), min_size=rows, max_size=rows)
))  # fmt: skip


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrix=matrices, threshold=st.integers(3, 6))
# Found by this test against the first algorithm: two primary cells on one rectangle with two
# complements move together and ran out of room ((0, 1) could only be 1).
@example(matrix=[[6, 1, 10], [5, 10, 3], [5, 8, 0]], threshold=4)
@example(matrix=[[10, 2], [0, 2], [0, 5]], threshold=3)
@example(matrix=[[15, 5], [8, 7], [1, 8], [4, 2]], threshold=3)
@example(matrix=[[1, 4]], threshold=4)
def test_no_suppressed_cell_can_be_reconstructed(matrix: list[list[int]], threshold: int) -> None:
    table = protect(matrix, threshold)
    assert table == protect([list(row) for row in matrix], threshold), "deterministic"
    assert table.values == tuple(tuple(row) for row in extend(matrix))
    n, m = len(table.values), len(table.values[0])
    cells = [(i, j) for i in range(n) for j in range(m)]
    if table.withheld:
        # Nothing shown at all: nothing to reconstruct from.
        assert all(table.shown(*p) == WITHHELD for p in cells)
        return
    for p in cells:
        value = table.values[p[0]][p[1]]
        assert (p in table.primary) == (0 < value < threshold)
        if 0 < value < threshold:
            assert table.shown(*p) == f"<{threshold}", "no cell under the threshold is ever shown"
        elif value == 0:
            assert table.shown(*p) == "0", "zeros are shown"
        else:
            assert table.shown(*p) in (str(value), "•")
    k = knowledge(table)
    for var, p in enumerate(k.hidden):
        if p not in table.primary:
            continue
        values = possible_values(k, var)
        assert table.values[p[0]][p[1]] in values, "the attacker's model must admit the truth"
        assert len(values) >= 2, f"cell {p} is pinned to {values}:\n{shown_grid(table)}"


tiny_matrices = st.integers(1, 3).flatmap(lambda rows: st.integers(1, 3).flatmap(
    lambda cols: st.lists(st.lists(st.integers(0, 3), min_size=cols, max_size=cols), min_size=rows, max_size=rows)
))  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(matrix=tiny_matrices, threshold=st.integers(3, 4))
@example(matrix=[[1, 1], [6, 9]], threshold=3)
def test_a_table_is_withheld_only_when_it_must_be(matrix: list[list[int]], threshold: int) -> None:
    """Withheld: some small cell is pinned even if every other cell were hidden as "•"."""
    table = protect(matrix, threshold)
    if not table.withheld:
        return
    n, m = len(table.values), len(table.values[0])
    everything = frozenset((i, j) for i in range(n) for j in range(m)) - table.primary
    k = knowledge(ProtectedTable(table.values, table.primary, everything, table.threshold))
    pinned = [p for var, p in enumerate(k.hidden) if p in table.primary and len(possible_values(k, var)) < 2]
    assert pinned


# Rules and examples ------------------------------------------------------------------------------


def test_threshold_is_never_below_three() -> None:
    for low in (-1, 0, 1, 2):
        table = protect([[2, 7], [9, 8]], low)
        assert table.threshold == MIN_THRESHOLD
        assert table.shown(0, 0) == "<3"
    assert protect([[2, 7], [9, 8]], 4).threshold == 4
    assert protect([[2, 7], [9, 8]]).threshold == THRESHOLD == 5


def test_a_municipality_s_own_threshold_and_the_network_s() -> None:
    # Without a choice of its own a municipality follows the policy; a choice is kept, but never below 3.
    assert threshold_for(None) == THRESHOLD
    assert [threshold_for(t) for t in (7, 4, 3, 2, 0)] == [7, 4, 3, MIN_THRESHOLD, MIN_THRESHOLD]
    # The network takes the strictest member, and never less than the policy.
    assert network_threshold([]) == THRESHOLD
    assert network_threshold([None, 3, 4]) == THRESHOLD
    assert network_threshold([None, 7, 3]) == 7


def test_nothing_small_nothing_hidden() -> None:
    table = protect([[5, 7], [0, 12]], 5)
    assert shown_grid(table) == [["5", "7", "12"], ["0", "12", "12"], ["5", "19", "24"]]
    assert not table.primary
    assert not table.complementary
    assert not table.withheld


def test_example_a_small_cell_with_its_complements() -> None:
    # Quarters of one year, three incident types; one type had 2 cases in Q2.
    table = protect([[9, 2, 8], [7, 6, 11], [10, 12, 9]], 5)
    assert shown_grid(table) == [
        ["9", "<5", "•", "19"],
        ["7", "•", "•", "24"],
        ["10", "12", "9", "31"],
        ["26", "20", "28", "74"],
    ]
    # x + y = 10, u + v = 17, x + u = 8, y + v = 19 with x in 1..4, y, u, v >= 5: x is 1, 2 or 3.
    k = knowledge(table)
    assert possible_values(k, k.hidden.index((0, 1))) == [1, 2, 3]


def test_example_zeros_and_small_totals() -> None:
    table = protect([[0, 3, 0], [6, 7, 8]], 5)
    # The row total 3 is small too; the zeros beside it stay visible.
    assert shown_grid(table) == [["0", "<5", "0", "<5"], ["6", "•", "8", "•"], ["6", "10", "8", "24"]]
    k = knowledge(table)
    assert possible_values(k, k.hidden.index((0, 1))) == [1, 2, 3, 4]
    assert possible_values(k, k.hidden.index((0, 3))) == [1, 2, 3, 4]


def test_example_withheld() -> None:
    # At threshold 3 a row "1, 1" has the total 2: two cells of 1..2 that add up to at most 2 are
    # both 1, whatever else is hidden. Nothing of the table is shown.
    table = protect([[1, 1], [6, 9]], 3)
    assert table.withheld
    assert {table.shown(i, j) for i in range(3) for j in range(3)} == {WITHHELD}
    assert table.hidden(2, 2)


def test_deterministic_and_independent_of_input_object() -> None:
    matrix = [[3, 1, 14], [0, 4, 9], [8, 8, 2]]
    first = protect(matrix, 5)
    assert all(protect([list(r) for r in matrix], 5) == first for _ in range(5))
    assert matrix == [[3, 1, 14], [0, 4, 9], [8, 8, 2]], "the input is not changed"


def test_empty_table() -> None:
    table = protect([], 5)
    assert table.values == ((0,),)
    assert table.shown(0, 0) == "0"
