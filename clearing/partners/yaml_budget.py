"""Reading YAML a user typed within budgets (size, nesting, nodes as if aliases were expanded, alias uses).

PyYAML composes an alias as a reference to its anchor's node, so a "billion laughs" document costs
little to load and explodes only when something walks it (a repr in an error message did, once).
The loader here counts every node as it is composed, an alias at the full size of what it repeats,
and refuses the document the moment a budget is exceeded: nothing is ever expanded.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass

import yaml
from yaml.constructor import ConstructorError
from yaml.error import Mark
from yaml.nodes import Node

# What a problem message may quote of the input.
EXCERPT_CHARS = 80
# Larger integers are no setting of any kind, and Python refuses to print those of over 4300 digits.
MAX_INT_BITS = 64


@dataclass(frozen=True)
class YamlBudget:
    max_bytes: int
    max_depth: int  # levels of nodes, the root and a scalar each counting one
    max_nodes: int  # counting an alias at the size of what it repeats
    max_aliases: int


class YamlOverBudget(yaml.MarkedYAMLError):
    """The document exceeds a budget; .problem says which, .problem_mark where (None: the whole file)."""

    def __init__(self, problem: str, mark: Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class BudgetLoader(yaml.SafeLoader):
    """A SafeLoader that counts nodes, depth and alias uses while composing, and stops at its budget."""

    def __init__(self, text: str, budget: YamlBudget) -> None:
        super().__init__(text)
        self.budget = budget
        self.depth = 0  # level of the node being composed
        self.deepest = 0  # deepest level reached inside the anchored node being composed
        self.nodes = 0
        self.aliases = 0
        # Per anchor: nodes and levels its node spans, which each alias to it repeats.
        self.spans: dict[str, tuple[int, int]] = {}
        self.open_anchors: set[str] = set()

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        level = self.depth + 1
        event: yaml.NodeEvent = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        anchor = event.anchor
        # Always a Python Mark: this loader is the pure-Python one (the stubs also allow libyaml's).
        mark = event.start_mark if isinstance(event.start_mark, Mark) else None
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.budget.max_aliases:
                raise YamlOverBudget(f"more than {self.budget.max_aliases} aliases (*name)", mark)
            if anchor in self.open_anchors:
                raise YamlOverBudget("an alias inside the entry it names", mark)
            if anchor in self.spans:  # an undefined alias is refused by the composer itself
                nodes, levels = self.spans[anchor]
                self._spend(nodes, level + levels - 1, mark)
            return super().compose_node(parent, index)
        outer_deepest, before = self.deepest, self.nodes
        self.deepest = level
        self._spend(1, level, mark)
        if anchor is not None:
            self.open_anchors.add(anchor)
        self.depth = level
        node = super().compose_node(parent, index)
        self.depth = level - 1
        if anchor is not None:
            self.open_anchors.discard(anchor)
            self.spans[anchor] = (self.nodes - before, self.deepest - level + 1)
        self.deepest = max(outer_deepest, self.deepest)
        return node

    def _spend(self, nodes: int, reaching: int, mark: Mark | None) -> None:
        self.nodes += nodes
        if self.nodes > self.budget.max_nodes:
            raise YamlOverBudget(f"more than {self.budget.max_nodes} entries, counting what aliases repeat", mark)
        if reaching > self.budget.max_depth:
            raise YamlOverBudget(f"nested more than {self.budget.max_depth} levels deep", mark)
        self.deepest = max(self.deepest, reaching)

    def construct_object(self, node: Node, deep: bool = False) -> object:
        # A scalar the resolver took for a number or date may still not be one (2001-13-01, an int of
        # 5000 digits): Python refuses it with a ValueError, which here becomes a YAML error at its place.
        try:
            value = super().construct_object(node, deep=deep)
        except ValueError:
            raise ConstructorError(None, None, "not a valid value", node.start_mark) from None
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise YamlOverBudget("a number too large", node.start_mark)
        return value


def load(text: str, budget: YamlBudget) -> object:
    """The one document in text, or YamlOverBudget / another yaml.YAMLError; only safe YAML types."""
    # A character is at least one byte: an overlong text is refused without encoding it.
    if len(text) > budget.max_bytes or len(text.encode()) > budget.max_bytes:
        raise YamlOverBudget(f"larger than {budget.max_bytes // 1000} kB", None)
    loader = BudgetLoader(text, budget)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxstring = _REPR.maxother = EXCERPT_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4


def excerpt(value: object, *, quoted: bool = False) -> str:
    """A value from the input as a message may show it: short, one line, no control characters.

    quoted: as Python writes it ('text', [1, 2]), else a string as it is. Structures are only
    walked as far as shown, whatever their size.
    """
    try:
        shown = _REPR.repr(value) if quoted or not isinstance(value, str) else value[: EXCERPT_CHARS + 1]
    except ValueError:  # an integer of more than 4300 digits
        shown = f"<{type(value).__name__}>"
    shown = "".join(char if char.isprintable() else " " for char in shown)
    return shown if len(shown) <= EXCERPT_CHARS else shown[: EXCERPT_CHARS - 1] + "…"
