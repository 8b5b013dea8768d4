"""Sorting a flood in bulk: officers clear the mark of genuine reports and delete flood reports for good.

reporting.flood marks every report that arrives while a municipality's intake is flooded. Here
the officers sort them out: only cases they reach (clearing.scoping) are touched, so an id of
another municipality is ignored like one that does not exist. Deleting is crypto-shredding
(clearing.cases.maintenance.shred_case), and only of what nobody has worked on: marked, still
"received", not acute. A report of acute danger is never deleted in bulk.

Takes a session and the acting officer, never commits; each case changed is audited (no content).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from clearing.audit import service as audit
from clearing.cases.errors import NoOfficeKey
from clearing.cases.maintenance import shred_case
from clearing.scoping import case_query
from core.staff import Staff
from reporting.models import Case

# More than one inbox page shows (clearing.cases.inbox.PAGE_SIZE): a bound on one request's work.
MAX_SELECTION = 100
ID_LENGTH = 32

# Why a selected case was left as it was.
NOT_MARKED = "not_marked"
IN_WORK = "in_work"
ACUTE = "acute"


class NoneFound(Exception):
    """None of the selected ids is a case the officer reaches: nothing was changed."""


@dataclass(frozen=True)
class Sorted:
    """How many cases were changed, and the references of those left alone, by reason."""

    changed: int
    refused: dict[str, list[str]] = field(default_factory=dict)


def _selected(session: Session, actor: Staff, case_ids: Iterable[str]) -> list[Case]:
    """The selected cases the officer reaches, locked (in id order) against a colleague sorting them too."""
    if actor.office_key is None:
        # Without the office key the officer cannot have read what they sort.
        raise NoOfficeKey
    ids = sorted({case_id for case_id in case_ids if 0 < len(case_id) <= ID_LENGTH})[:MAX_SELECTION]
    cases = (
        list(session.scalars(case_query(actor).where(Case.id.in_(ids)).order_by(Case.id).with_for_update()))
        if ids
        else []
    )
    if not cases:
        raise NoneFound
    return cases


def _refused(cases: list[tuple[str, Case]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for reason, case in cases:
        found.setdefault(reason, []).append(case.reference)
    return {reason: sorted(references) for reason, references in found.items()}


def clear_marks(session: Session, actor: Staff, case_ids: Iterable[str]) -> Sorted:
    """The officer judged these reports genuine: they lose the flood mark and stay in the inbox."""
    cases = _selected(session, actor, case_ids)
    cleared = [case for case in cases if case.flood_marked]
    unmarked = [(NOT_MARKED, case) for case in cases if not case.flood_marked]
    for case in cleared:
        case.flood_marked = False
        audit.record_by(session, actor, chain=case.municipality_id, action="case.flood_cleared", target_id=case.id)
    session.flush()
    return Sorted(len(cleared), _refused(unmarked))


def _why_kept(case: Case) -> str | None:
    if case.urgency == "acute":
        return ACUTE
    if not case.flood_marked:
        return NOT_MARKED
    if case.status != "received":
        return IN_WORK
    return None


def discard(session: Session, actor: Staff, case_ids: Iterable[str]) -> Sorted:
    """Delete the selected flood reports for good (crypto-shredding); the others stay as they are.

    A case still "received" has no assessment, so nothing of it goes into the statistics rollup.
    """
    cases = _selected(session, actor, case_ids)
    kept = [(reason, case) for case in cases if (reason := _why_kept(case)) is not None]
    kept_ids = {case.id for _reason, case in kept}
    discarded = [case for case in cases if case.id not in kept_ids]
    for case in discarded:
        audit.record_by(session, actor, chain=case.municipality_id, action="case.flood_discarded", target_id=case.id)
        shred_case(session, case)
    return Sorted(len(discarded), _refused(kept))
