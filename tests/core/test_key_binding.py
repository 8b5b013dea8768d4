"""Issue 13 item 2: a public key written into the database is refused, nothing is sealed to it.

The attack: whoever can write the database replaces a stored public key (the office key, a partner
organisation's key, an account's key) with one of their own, reads what is sealed to it from then
on, and could re-seal it to the real key so nobody notices. Every key now carries an HMAC tag under
KOMMA_KEY_BINDING_KEY, which is not in the database; sealing verifies it first.
"""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import crypto
from clearing.partners.models import PartnerKeyGrant
from clearing.partners.service import add_partner_user, grant_partner_key
from clearing.referrals.errors import ReferralRefused
from clearing.referrals.models import Referral
from core import key_binding
from core.custody import grant_office_key, has_grant
from core.models import Account, Municipality, OfficeKeyGrant
from reporting import service as reporting_service
from reporting.models import Attachment, ReporterAccess
from tests.factories import (
    add_person,
    add_town,
    build_alliance,
    config_of,
    count_cases,
    new_report,
    office_private_key,
    partner_org,
    partner_private_key,
    refer_case,
    submit_case,
)
from tests.web import csrf_token, full_report, post_form, post_report


def _write(session: Session, statement: str, **values: object) -> None:
    """What an attacker with write access to the database does: plain SQL, no application code."""
    session.execute(text(statement), values)
    session.commit()
    session.expire_all()


def _verify(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["keys", "verify"])
    return result.exit_code, result.output


def _count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_every_key_the_app_creates_is_bound(app: Flask, session: Session) -> None:
    config = config_of(app)
    alliance = build_alliance(session, config, "astadt", "Astadt")
    submit_case(session, config, alliance.town)
    check = key_binding.check_keys(session)
    assert check.ok, [(k.kind, k.owner_id) for k in check.untagged + check.wrong]
    kinds = {(k.kind.owner_kind, k.kind.purpose) for k in key_binding.stored_keys(session)}
    assert kinds == {
        ("municipality", "office-key"),
        ("municipality", "recovery-key"),
        ("account", "account-key"),
        ("partner_organisation", "partner-key"),
    }
    code, output = _verify(app)
    assert code == 0, output
    assert "0 wrong, 0 untagged" in output


def test_an_office_key_written_into_the_database_gets_no_report(
    app: Flask, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    town = add_town(session, "astadt", "Astadt")
    # A reporter opens the form; meanwhile the office key is replaced.
    client = app.test_client()
    token = csrf_token(client, f"/melden/{town.slug}")
    attacker = crypto.generate_keypair()
    _write(session, "UPDATE municipality SET office_public_key = :key WHERE id = :id", key=attacker.public, id=town.id)

    # Their report is refused without a 500 and nothing is stored; the next visitor learns it before writing.
    posted = post_form(client, f"/melden/{town.slug}", {**full_report(), "csrf_token": token}, csrf=False)
    assert posted.status_code == 503
    assert "Ihre Meldung wurde nicht gespeichert" in posted.get_data(as_text=True)
    assert count_cases(session) == 0
    assert _count(session, ReporterAccess) == 0
    assert _count(session, Attachment) == 0
    page = client.get(f"/melden/{town.slug}")
    assert page.status_code == 503
    assert "Meldungen sind gerade nicht möglich" in page.get_data(as_text=True)
    assert "110" in page.get_data(as_text=True)

    # The service itself refuses too, before it derives or stores anything.
    municipality = session.get_one(Municipality, town.id)
    with caplog.at_level(logging.ERROR), pytest.raises(key_binding.UnverifiedKey):
        reporting_service.submit_report(session, config_of(app), municipality, new_report())
    session.rollback()
    assert count_cases(session) == 0
    assert town.id in caplog.text
    assert attacker.public.hex() not in caplog.text

    code, output = _verify(app)
    assert code == 1
    assert f"WRONG  municipality {town.id} (office-key)" in output
    assert attacker.public.hex() not in output


def test_a_valid_tag_moved_from_another_municipality_does_not_help(app: Flask, session: Session) -> None:
    a = add_town(session, "astadt", "Astadt")
    b = add_town(session, "bstadt", "Bstadt")
    # Bstadt's key and its genuine tag, copied onto Astadt: the tag names its owner.
    _write(
        session,
        "UPDATE municipality SET office_public_key = (SELECT office_public_key FROM municipality WHERE id = :b), "
        "office_key_binding = (SELECT office_key_binding FROM municipality WHERE id = :b) WHERE id = :a",
        a=a.id,
        b=b.id,
    )
    assert app.test_client().get(f"/melden/{a.slug}").status_code == 503
    assert count_cases(session) == 0
    code, output = _verify(app)
    assert code == 1
    assert f"municipality {a.id}" in output
    assert f"municipality {b.id}" not in output


def test_an_untagged_office_key_is_refused_until_the_operator_binds_it(app: Flask, session: Session) -> None:
    town = add_town(session, "astadt", "Astadt")
    # As after the upgrade that introduced tags: the key is there, its tag is not.
    _write(session, "UPDATE municipality SET office_key_binding = NULL WHERE id = :id", id=town.id)
    assert app.test_client().get(f"/melden/{town.slug}").status_code == 503
    code, output = _verify(app)
    assert code == 1
    assert f"UNTAGGED  municipality {town.id} (office-key)" in output

    municipality = session.get_one(Municipality, town.id)
    fingerprint = crypto.fingerprint(municipality.office_public_key or b"")
    session.commit()
    bound = app.test_cli_runner().invoke(args=["keys", "bind", "--yes"])
    assert bound.exit_code == 0, bound.output
    assert fingerprint in bound.output
    assert "bound 1 keys" in bound.output
    assert _verify(app)[0] == 0
    assert post_report(app.test_client(), town).status_code == 303
    assert count_cases(session) == 1


def test_bind_never_replaces_a_wrong_tag_unless_asked(app: Flask, session: Session) -> None:
    town = add_town(session, "astadt", "Astadt")
    attacker = crypto.generate_keypair()
    _write(session, "UPDATE municipality SET office_public_key = :key WHERE id = :id", key=attacker.public, id=town.id)
    result = app.test_cli_runner().invoke(args=["keys", "bind", "--yes"])
    assert result.exit_code == 0
    assert "nothing to bind" in result.output
    assert _verify(app)[0] == 1


def test_a_partner_key_written_into_the_database_gets_no_referral(app: Flask, session: Session) -> None:
    config = config_of(app)
    alliance = build_alliance(session, config, "astadt", "Astadt")
    case = submit_case(session, config, alliance.town)
    partner_id = alliance.partner_ids["opferberatung"]
    attacker = crypto.generate_keypair()
    _write(
        session, "UPDATE partner_organisation SET public_key = :key WHERE id = :id", key=attacker.public, id=partner_id
    )

    with pytest.raises(ReferralRefused, match="nicht bestätigen"):
        refer_case(session, alliance.town, alliance.officer, case.id, "opferberatung")
    session.rollback()
    assert _count(session, Referral) == 0

    code, output = _verify(app)
    assert code == 1
    assert f"WRONG  partner_organisation {partner_id} (partner-key)" in output


def test_a_partner_tag_of_an_older_key_generation_does_not_verify(app: Flask, session: Session) -> None:
    config = config_of(app)
    alliance = build_alliance(session, config, "astadt", "Astadt")
    partner = partner_org(session, alliance.town, "opferberatung")
    # Going back to the generation the tag was not made for (a replayed older key and tag would need this).
    _write(
        session,
        "UPDATE partner_organisation SET key_generation = key_generation + 1 WHERE id = :id",
        id=partner.id,
    )
    case = submit_case(session, config, alliance.town)
    with pytest.raises(ReferralRefused):
        refer_case(session, alliance.town, alliance.officer, case.id, "opferberatung")
    session.rollback()


def test_an_account_key_written_into_the_database_gets_no_office_key(app: Flask, session: Session) -> None:
    config = config_of(app)
    town = add_town(session, "astadt", "Astadt")
    newcomer = add_person(session, config, town, "neu", grant=False)
    attacker = crypto.generate_keypair()
    _write(session, "UPDATE account SET public_key = :key WHERE id = :id", key=attacker.public, id=newcomer.id)

    account = session.get_one(Account, newcomer.id)
    with pytest.raises(key_binding.UnverifiedKey):
        grant_office_key(session, office_private_key(session, town), account)
    session.rollback()
    assert not has_grant(session, session.get_one(Account, newcomer.id))
    assert _count(session, OfficeKeyGrant) == 1  # the recovery key's only

    code, output = _verify(app)
    assert code == 1
    assert f"WRONG  account {newcomer.id} (account-key)" in output


def test_an_account_key_written_into_the_database_gets_no_partner_key(app: Flask, session: Session) -> None:
    config = config_of(app)
    alliance = build_alliance(session, config, "astadt", "Astadt")
    holder = alliance.partners["opferberatung"]
    partner = partner_org(session, alliance.town, "opferberatung")
    colleague = add_partner_user(session, config, partner, login="kollegin-astadt", display_name="Kollegin").account
    session.commit()
    attacker = crypto.generate_keypair()
    _write(session, "UPDATE account SET public_key = :key WHERE id = :id", key=attacker.public, id=colleague.id)

    organisation_key = partner_private_key(session, config, holder)
    session.commit()
    with pytest.raises(key_binding.UnverifiedKey):
        grant_partner_key(session, organisation_key, partner, session.get_one(Account, colleague.id), granted_by=None)
    session.rollback()
    grants = session.scalars(select(PartnerKeyGrant.account_id).where(PartnerKeyGrant.partner_id == partner.id))
    assert colleague.id not in set(grants)


def test_the_office_grant_page_refuses_calmly(app: Flask, session: Session) -> None:
    from tests.web import flashes, logged_in_client, post

    config = config_of(app)
    town = add_town(session, "astadt", "Astadt")
    officer = add_person(session, config, town, "fachkraft")
    newcomer = add_person(session, config, town, "neu", grant=False)
    _write(
        session,
        "UPDATE account SET public_key = :key WHERE id = :id",
        key=crypto.generate_keypair().public,
        id=newcomer.id,
    )
    client = logged_in_client(app, officer)
    response = post(client, f"/verwaltung/freischalten/{newcomer.id}")
    assert response.status_code == 303
    page = client.get("/verwaltung/freischalten").get_data(as_text=True)
    assert "ließ sich nicht bestätigen" in flashes(page)
    assert not has_grant(session, session.get_one(Account, newcomer.id))


def test_coordinators_and_partners_see_the_same_fingerprints(app: Flask, session: Session) -> None:
    from tests.web import logged_in_client

    config = config_of(app)
    alliance = build_alliance(session, config, "astadt", "Astadt")
    municipality = session.get_one(Municipality, alliance.town.id)
    partner = partner_org(session, alliance.town, "opferberatung")
    office_print = crypto.fingerprint(municipality.office_public_key or b"")
    partner_print = crypto.fingerprint(partner.public_key)
    session.commit()

    coordinator = logged_in_client(app, alliance.coordinator)
    team = coordinator.get("/verwaltung/team").get_data(as_text=True)
    assert office_print in team
    assert "bestätigt" in team
    partners_page = coordinator.get("/verwaltung/partner").get_data(as_text=True)
    assert partner_print in partners_page

    portal = logged_in_client(app, alliance.partners["opferberatung"])
    colleagues = portal.get("/partner/kolleginnen").get_data(as_text=True)
    assert partner_print in colleagues

    # A replaced key shows a different fingerprint, marked as not confirmed.
    _write(
        session,
        "UPDATE municipality SET office_public_key = :key WHERE id = :id",
        key=crypto.generate_keypair().public,
        id=alliance.town.id,
    )
    team = coordinator.get("/verwaltung/team").get_data(as_text=True)
    assert office_print not in team
    assert "nicht bestätigt" in team
