"""Fixtures of the statistics tests."""

from __future__ import annotations

import pytest
from flask import Flask

from core.config import Config
from tests.clearing.helpers import config_of, share_compiled_templates


@pytest.fixture
def config(app: Flask) -> Config:
    share_compiled_templates(app)
    return config_of(app)
