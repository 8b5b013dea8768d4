"""Komm.A Meldestelle core: app factory, configuration, database, security, i18n, CLI."""

from core.app import create_app

__all__ = ["create_app"]
