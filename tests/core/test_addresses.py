"""Notification addresses: a link confirms them (single use, 24 h), nothing changes before, every change audited."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.audit.models import AuditEvent
from core import addresses
from core.config import Config
from core.db import utcnow
from core.models import Account, EmailConfirmation, Municipality
from tests.factories import Person, Town, add_person, add_town, config_of


@pytest.fixture
def config(app: Flask) -> Config:
    # A configured SMTP server is all request_confirmation checks; no job runs in these tests.
    return dataclasses.replace(config_of(app), smtp_url="smtp://127.0.0.1:9")


@pytest.fixture
def town(session: Session) -> Town:
    return add_town(session, "adressstadt", "Adressstadt")


@pytest.fixture
def officer(session: Session, app: Flask, town: Town) -> Person:
    return add_person(session, config_of(app), town, "fachkraft-adresse")


def account_of(session: Session, person: Person) -> Account:
    account = session.get(Account, person.id)
    assert account is not None
    return account


def requested(session: Session, config: Config, account: Account, address: str) -> str:
    """Ask for a new address and return the link's token as the mail job would send it."""
    row = addresses.request_confirmation(session, config, address, actor=account, account=account)
    token = addresses.token_to_send(config, row)
    assert token is not None
    return token


def test_the_old_address_stays_until_the_link_is_opened_once(session: Session, config: Config, officer: Person) -> None:
    account = account_of(session, officer)
    account.email = "alt@adressstadt.example"
    token = requested(session, config, account, "  neu@adressstadt.example ")
    assert account.email == "alt@adressstadt.example"
    pending = addresses.pending(session, account=account)
    assert pending is not None
    assert pending.address == "neu@adressstadt.example"
    # Only the hash finds the row; the token is in no column in clear.
    assert token.encode() not in pending.token_hash
    assert token.encode() not in (pending.token_box or b"")

    addresses.confirm(session, token)
    assert account.email == "neu@adressstadt.example"
    assert addresses.pending(session, account=account) is None
    with pytest.raises(addresses.LinkInvalid) as used:
        addresses.confirm(session, token)
    assert used.value.reason == "used"


def test_an_expired_link_changes_nothing(session: Session, config: Config, officer: Person) -> None:
    account = account_of(session, officer)
    token = requested(session, config, account, "neu@adressstadt.example")
    row = session.scalars(select(EmailConfirmation)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    assert addresses.token_to_send(config, row) is None, "an expired link is not mailed any more"
    with pytest.raises(addresses.LinkInvalid) as expired:
        addresses.confirm(session, token)
    assert expired.value.reason == "expired"
    assert account.email == ""
    assert row.confirmed_at is None


def test_a_newer_request_replaces_the_older_link(session: Session, config: Config, officer: Person) -> None:
    account = account_of(session, officer)
    first = requested(session, config, account, "eins@adressstadt.example")
    second = requested(session, config, account, "zwei@adressstadt.example")
    with pytest.raises(addresses.LinkInvalid) as unknown:
        addresses.confirm(session, first)
    assert unknown.value.reason == "unknown"
    addresses.confirm(session, second)
    assert account.email == "zwei@adressstadt.example"


@pytest.mark.parametrize(
    "address",
    [
        "",
        "keine-adresse",
        "name@ohnepunkt",
        "zwei worte@kommune.example",
        "a@kommune.example\nBcc: b@andere.example",
        "a@kommune.example, b@kommune.example",
        "Name <a@kommune.example>",
        "jürgen@kommune.example",
        "a" * 250 + "@kommune.example",
    ],
)
def test_an_invalid_address_is_refused_and_changes_nothing(
    session: Session, config: Config, officer: Person, address: str
) -> None:
    account = account_of(session, officer)
    with pytest.raises(addresses.AddressRefused) as refused:
        addresses.request_confirmation(session, config, address, actor=account, account=account)
    assert refused.value.reason == "invalid"
    assert session.scalars(select(EmailConfirmation)).all() == []


def test_without_smtp_no_link_is_promised(app: Flask, session: Session, officer: Person) -> None:
    account = account_of(session, officer)
    with pytest.raises(addresses.AddressRefused) as refused:
        addresses.request_confirmation(session, config_of(app), "a@kommune.example", actor=account, account=account)
    assert refused.value.reason == "no_mail"


def test_links_per_hour_are_limited(session: Session, config: Config, officer: Person) -> None:
    account = account_of(session, officer)
    for number in range(addresses.REQUESTS_PER_HOUR):
        requested(session, config, account, f"versuch{number}@adressstadt.example")
    with pytest.raises(addresses.AddressRefused) as refused:
        addresses.request_confirmation(session, config, "noch@adressstadt.example", actor=account, account=account)
    assert refused.value.reason == "too_many"


def test_removing_drops_the_address_and_a_pending_link(session: Session, config: Config, officer: Person) -> None:
    account = account_of(session, officer)
    account.email = "alt@adressstadt.example"
    token = requested(session, config, account, "neu@adressstadt.example")
    addresses.remove(session, actor=account, account=account)
    assert account.email == ""
    with pytest.raises(addresses.LinkInvalid):
        addresses.confirm(session, token)


def test_the_office_address_is_confirmed_by_its_link_and_every_change_is_audited(
    app: Flask, session: Session, config: Config, town: Town
) -> None:
    coordinator = account_of(session, add_person(session, config_of(app), town, "koordination-adresse", "coordinator"))
    municipality = session.get(Municipality, town.id)
    assert municipality is not None
    row = addresses.request_confirmation(
        session, config, "clearing@adressstadt.example", actor=coordinator, municipality=municipality
    )
    token = addresses.token_to_send(config, row)
    assert token is not None
    assert municipality.notify_email == ""
    addresses.confirm(session, token)
    assert municipality.notify_email == "clearing@adressstadt.example"
    addresses.remove(session, actor=coordinator, municipality=municipality)
    assert municipality.notify_email == ""

    events = session.scalars(
        select(AuditEvent).where(AuditEvent.chain == town.id, AuditEvent.target_id == town.id).order_by(AuditEvent.seq)
    ).all()
    assert [(e.action, e.actor_id, e.actor_role, e.detail) for e in events] == [
        ("email.requested", coordinator.id, "coordinator", "office"),
        ("email.confirmed", coordinator.id, "coordinator", "office"),
        ("email.removed", coordinator.id, "coordinator", "office"),
    ]


def test_a_network_operator_s_change_goes_to_the_network_chain(app: Flask, session: Session, config: Config) -> None:
    operator = account_of(session, add_person(session, config_of(app), None, "netzwerk-adresse", "network_operator"))
    addresses.confirm(session, requested(session, config, operator, "netz@betrieb.example"))
    assert operator.email == "netz@betrieb.example"
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.chain == "network", AuditEvent.target_id == operator.id)
    ).all()
    assert actions == ["email.requested", "email.confirmed"]
    # The audit trail says who changed whose address, never the address.
    assert not any("betrieb.example" in (e.detail or "") for e in session.scalars(select(AuditEvent)))
