"""Anchor files: where the daily anchor of the audit chains is written, and the newest one read back.

The folder (KOMMA_AUDIT_ANCHOR_DIR, default instance/anchors) is only the first copy: the operator
ships the files to a place the database's administrators cannot write (README, "Audit trail").
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.orm import Session

from clearing.audit.service import Anchor, AnchorInvalid, BrokenLink, read_anchor, verify
from core.config import Config

PREFIX = "audit-anchor-"


def anchor_dir(config: Config) -> Path:
    return config.audit_anchor_dir or config.instance_path / "anchors"


def write(directory: Path, anchor: Anchor, content: bytes) -> Path:
    """A new file in `directory` named for the anchor's instant (never overwriting one); its path."""
    directory.mkdir(parents=True, exist_ok=True)
    return write_file(directory / f"{PREFIX}{anchor.at:%Y%m%dT%H%M%S%fZ}.json", content)


def write_file(path: Path, content: bytes) -> Path:
    """Write the whole file or nothing (a crash leaves no half anchor)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    os.replace(partial, path)
    return path


def newest(directory: Path) -> Path | None:
    """The most recent anchor in the folder (the names sort by time), or None."""
    if not directory.is_dir():
        return None
    found = sorted(directory.glob(f"{PREFIX}*.json"))
    return found[-1] if found else None


def verify_against_newest(session: Session, directory: Path) -> tuple[int, BrokenLink | None]:
    """verify() over every chain and against the newest anchor in `directory` (if there is one)."""
    last = newest(directory)
    try:
        previous = read_anchor(session, last.read_bytes()) if last else None
    except AnchorInvalid as invalid:
        return 0, BrokenLink("anchor", 0, f"{last.name if last else ''}: {invalid}")
    return verify(session, anchor=previous)
