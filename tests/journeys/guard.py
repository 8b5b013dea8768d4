"""The accessibility guard: which documents a page showed, and which of them passed axe-core."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Frame, Page


@dataclass
class AccessibilityGuard:
    """The paths a page reached (main frame) and the paths checked with axe-core on it."""

    reached: list[str] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)

    def unchecked(self) -> list[str]:
        return [path for path in dict.fromkeys(self.reached) if path not in self.checked]


_GUARDS: dict[int, AccessibilityGuard] = {}


def guard(page: Page) -> AccessibilityGuard:
    """Record every document the page's main frame shows (the `journey` fixture does this for its pages)."""
    if id(page) in _GUARDS:
        return _GUARDS[id(page)]
    record = AccessibilityGuard()
    _GUARDS[id(page)] = record

    def navigated(frame: Frame) -> None:
        if frame.parent_frame is None and frame.url.startswith("http"):
            record.reached.append(urlsplit(frame.url).path)

    page.on("framenavigated", navigated)
    return record


def forget(page: Page) -> AccessibilityGuard | None:
    """The page's record, no longer kept (at the end of a journey)."""
    return _GUARDS.pop(id(page), None)
