"""Every table in Base.metadata, for alembic and tests: the list lives with the app's wiring."""

from __future__ import annotations

from core.app import MODEL_MODULES, import_all_models

__all__ = ["MODEL_MODULES", "import_all_models"]
