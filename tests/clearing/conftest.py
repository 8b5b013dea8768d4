"""Fixtures of the clearing-office tests: two municipalities with staff of every role and a case each."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from core.config import Config
from tests.clearing.helpers import (
    PDF_BYTES,
    Person,
    SubmittedCase,
    Town,
    add_person,
    add_town,
    config_of,
    share_compiled_templates,
    submit_case,
)


@dataclass(frozen=True)
class World:
    a: Town
    b: Town
    officer_a: Person  # holds A's office key
    waiting_a: Person  # an officer of A still without the office key
    officer_b: Person  # holds B's office key
    coordinator_a: Person
    operator: Person
    case_a: SubmittedCase  # with one attachment
    case_b: SubmittedCase  # with one attachment


@pytest.fixture(autouse=True)
def _compiled_templates(request: pytest.FixtureRequest) -> None:
    # Only for tests with an app: the pure ones need no database.
    if "app" in request.fixturenames:
        share_compiled_templates(request.getfixturevalue("app"))


@pytest.fixture
def config(app: Flask) -> Config:
    return config_of(app)


@pytest.fixture
def town_a(session: Session) -> Town:
    return add_town(session, "astadt", "Astadt")


@pytest.fixture
def officer_a(session: Session, config: Config, town_a: Town) -> Person:
    return add_person(session, config, town_a, "fachkraft-a", display_name="Anna Fachkraft")


@pytest.fixture
def world(session: Session, config: Config, town_a: Town, officer_a: Person) -> World:
    b = add_town(session, "bstadt", "Bstadt")
    return World(
        a=town_a,
        b=b,
        officer_a=officer_a,
        waiting_a=add_person(session, config, town_a, "neu-a", grant=False, display_name="Neu Wartend"),
        officer_b=add_person(session, config, b, "fachkraft-b", display_name="Bernd Fachkraft"),
        coordinator_a=add_person(session, config, town_a, "koordination-a", role="coordinator"),
        operator=add_person(session, config, None, "netzwerk", role="network_operator"),
        case_a=submit_case(session, config, town_a, description="Fall in Astadt", files=[("beweis.pdf", PDF_BYTES)]),
        case_b=submit_case(session, config, b, description="Fall in Bstadt", files=[("anderer.pdf", PDF_BYTES)]),
    )
