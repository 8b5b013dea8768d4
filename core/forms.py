"""Form helpers shared by every feature: a SelectChoice that type-checks against the WTForms stubs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # types-WTForms still describes WTForms 3.2, whose choices are (value, label) tuples; 3.3 adds
    # SelectChoice and deprecates the tuples. To the checker a SelectChoice is such a tuple.
    class SelectChoice(tuple[Any, str]):
        def __new__(cls, value: Any, label: str) -> SelectChoice: ...

else:
    from wtforms import SelectChoice

__all__ = ["SelectChoice"]
