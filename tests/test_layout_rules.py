"""The arrows between the packages run one way, and no test module imports another.

Feature packages (clearing, reporting) use core, crypto and workers, never the reverse; core/app.py,
the one place that wires the features, is the exception. reporting knows nothing of clearing. Tests
share code through their non-test modules (tests/factories.py, tests/web.py, ...), never by
importing a test_*.py. Every import counts, also one inside a function or under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ("clearing", "reporting")
BELOW_FEATURES = ("core", "crypto", "workers")
WIRING = {Path("core/app.py")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a source in `package` imports, relative imports resolved; `from a import b`
    names a.b as well (b may be a module)."""
    here = package.split(".")
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def imports_of(path: Path) -> set[str]:
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return imported_modules(path.read_text(encoding="utf-8"), package)


def top_level(module: str) -> str:
    return module.split(".")[0]


def sources(package: str) -> list[Path]:
    found = sorted((ROOT / package).rglob("*.py"))
    assert found, f"{package}/ not found"
    return found


def test_the_checker_sees_imports_anywhere() -> None:
    source = (
        "import os\nif True:\n    from clearing import scoping\ndef f():\n    import reporting.models\n"
        "    from .factories import add_town\n    from . import test_layout_rules\n"
    )
    assert imported_modules(source, "tests") == {
        "os",
        "clearing",
        "clearing.scoping",
        "reporting.models",
        "tests.factories",
        "tests.factories.add_town",
        "tests",
        "tests.test_layout_rules",
    }
    assert imported_modules("from ..models import Case\n", "clearing.cases") == {
        "clearing.models",
        "clearing.models.Case",
    }


def test_reporting_imports_nothing_of_clearing() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sources("reporting")
        for module in sorted(imports_of(path))
        if top_level(module) == "clearing"
    ]
    assert wrong == []


def test_core_crypto_and_workers_import_no_feature_but_in_the_wiring() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for package in BELOW_FEATURES
        for path in sources(package)
        if path.relative_to(ROOT) not in WIRING
        for module in sorted(imports_of(path))
        if top_level(module) in FEATURES
    ]
    assert wrong == []


def test_no_test_module_imports_another() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for module in sorted(imports_of(path))
        if top_level(module) == "tests" and module.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert wrong == []
