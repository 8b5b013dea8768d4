"""Fixtures of the statistics tests: the compiled templates shared, the app's configuration."""

from __future__ import annotations

import pytest
from flask import Flask

from core.config import Config
from tests.clearing.helpers import config_of, share_compiled_templates


@pytest.fixture(autouse=True)
def _compiled_templates(app: Flask) -> None:
    share_compiled_templates(app)


@pytest.fixture
def config(app: Flask) -> Config:
    return config_of(app)
