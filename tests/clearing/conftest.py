"""Fixtures of the clearing-office tests: two municipalities with staff of every role and a case each."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from core.config import Config
from tests.factories import Person, Town, World, add_person, add_town, build_world, config_of


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
    return build_world(session, config, town_a, officer_a)
