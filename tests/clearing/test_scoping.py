"""clearing/scoping.py: accounts, partner organisations and colleagues are reached only within the actor's scope."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from clearing import scoping
from core.config import Config
from core.models import Account, Municipality
from core.staff import Staff
from tests.factories import Alliance, add_partner, add_person, build_alliance, missing_id


def _staff(session: Session, account_id: str) -> Staff:
    return Staff(session.get_one(Account, account_id), None)


@pytest.fixture
def towns(session: Session, config: Config) -> tuple[Alliance, Alliance]:
    return build_alliance(session, config, "astadt", "Astadt"), build_alliance(session, config, "bstadt", "Bstadt")


def test_a_coordinator_reaches_the_accounts_of_her_municipality_only(
    session: Session, towns: tuple[Alliance, Alliance]
) -> None:
    a, b = towns
    coordinator = _staff(session, a.coordinator.id)
    mine = {account.id for account in session.scalars(scoping.account_query(coordinator))}
    assert {a.officer.id, a.officer2.id, a.coordinator.id, *(p.id for p in a.partners.values())} == mine
    assert scoping.find_account(session, coordinator, b.officer.id) is None
    assert scoping.find_account(session, coordinator, missing_id()) is None
    assert scoping.find_account(session, coordinator, "x" * 40) is None
    # "not yours" and "missing" give the same 404
    for account_id in (b.officer.id, missing_id()):
        with pytest.raises(NotFound):
            scoping.get_account(session, coordinator, account_id)
    assert scoping.get_account(session, coordinator, a.officer2.id).id == a.officer2.id


def test_partner_organisations_are_the_coordinators_own(session: Session, towns: tuple[Alliance, Alliance]) -> None:
    a, b = towns
    coordinator = _staff(session, a.coordinator.id)
    own = {org.id for org in session.scalars(scoping.partner_query(coordinator))}
    assert own == set(a.partner_ids.values())
    assert scoping.find_partner(session, coordinator, b.partner_ids["opferberatung"]) is None
    # An officer or a partner user reaches no organisation through this door.
    for other in (a.officer.id, a.partners["opferberatung"].id):
        assert list(session.scalars(scoping.partner_query(_staff(session, other)))) == []


def test_a_partner_user_reaches_active_colleagues_of_her_organisation_only(
    session: Session, config: Config, towns: tuple[Alliance, Alliance]
) -> None:
    a, b = towns
    colleague = add_partner(session, config, a.town, "opferberatung", "kollegin-astadt")
    user = _staff(session, a.partners["opferberatung"].id)
    found = {account.id for account in session.scalars(scoping.colleague_query(user))}
    assert found == {a.partners["opferberatung"].id, colleague.id}
    assert scoping.find_colleague(session, user, a.partners["polizei-staatsschutz"].id) is None
    assert scoping.find_colleague(session, user, b.partners["opferberatung"].id) is None
    session.get_one(Account, colleague.id).active = False
    session.commit()
    assert scoping.find_colleague(session, user, colleague.id) is None
    # Office staff have no colleagues in this sense.
    assert list(session.scalars(scoping.colleague_query(_staff(session, a.officer.id)))) == []


def test_municipalities_the_coordinators_own_the_network_operators_all(
    session: Session, config: Config, towns: tuple[Alliance, Alliance]
) -> None:
    a, b = towns
    coordinator = _staff(session, a.coordinator.id)
    assert [m.id for m in session.scalars(scoping.municipality_query(coordinator))] == [a.town.id]
    operator = add_person(session, config, None, "netzwerk", role="network_operator")
    reached = {m.id for m in session.scalars(scoping.municipality_query(_staff(session, operator.id)))}
    assert {a.town.id, b.town.id} <= reached
    assert reached == set(session.scalars(select(Municipality.id)))
    # Officers and partner users reach no municipality through this door.
    for other in (a.officer.id, a.partners["opferberatung"].id):
        assert list(session.scalars(scoping.municipality_query(_staff(session, other)))) == []
