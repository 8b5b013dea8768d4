"""Text from people: normalised and stripped of markup. The one place bleach is called.

bleach is no longer maintained upstream; keeping every call here makes it replaceable
(nh3 or html5lib-based stripping) without touching any feature code.
"""

from __future__ import annotations

import html
import re
import unicodedata

import bleach

# C0 and C1 control characters except tab and newline, plus bidi overrides and zero-width
# characters that can hide or reorder text in front of an officer.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_SPACES = re.compile(r"[ \t]+")


# Entities decoded by one pass can form new tags ("&lt;script&gt;"): strip again until nothing changes.
MAX_STRIP_PASSES = 5


def strip_markup(text: str) -> str:
    """Plain text: tags removed; entities decoded, since output is always autoescaped anyway."""
    if "<" not in text and "&" not in text:
        # Neither a tag nor an entity can start without one of these: nothing for bleach to do.
        return text
    for _ in range(MAX_STRIP_PASSES):
        stripped = html.unescape(bleach.clean(text, tags=set(), attributes={}, strip=True, strip_comments=True))
        if stripped == text:
            return text
        text = stripped
    # Still changing (entities nested deeper than the passes): keep the last level escaped, never a tag.
    return str(bleach.clean(text, tags=set(), attributes={}, strip=True, strip_comments=True))


def clean_text(value: str | None, *, multiline: bool = True) -> str:
    """Normalise a field: NFC, no control characters, no markup, tidy whitespace."""
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = strip_markup(text)
    if not multiline:
        text = " ".join(text.split())
    else:
        lines = [_SPACES.sub(" ", line).rstrip() for line in text.split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip()
