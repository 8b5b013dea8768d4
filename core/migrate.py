"""Alembic, driven from code: `komma db upgrade` and the tests use the same entry point."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from core.config import PROJECT_ROOT

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig


def alembic_config(database_url: str) -> AlembicConfig:
    # Imported here: importing Alembic logs its plugins at INFO, which upgrade_database keeps quiet.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # Alembic's ini interpolation would treat a % in a password as syntax.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str, revision: str = "head", *, verbose: bool = False) -> None:
    """Apply the migrations up to `revision`; Alembic's step-by-step log only when `verbose`."""
    with _alembic_log(logging.DEBUG if verbose else logging.WARNING):
        from alembic import command

        command.upgrade(alembic_config(database_url), revision)


@contextmanager
def _alembic_log(level: int) -> Iterator[None]:
    """Alembic logs every step at INFO (and DEBUG): a newcomer's `make run` should not drown in it."""
    logger = logging.getLogger("alembic")
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)
