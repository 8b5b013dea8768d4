"""crypto/ stays a pure library: only the standard library and `cryptography`, no web stack."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CRYPTO_DIR = ROOT / "crypto"
FORBIDDEN = ("flask", "sqlalchemy", "redis", "rq")


def imported_top_level(source: str) -> set[str]:
    """Top-level names of every absolute import in source (relative imports stay in crypto/)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def is_forbidden(name: str) -> bool:
    # flask_wtf, flask_babel and friends count as flask.
    return any(name == f or name.startswith(f + "_") for f in FORBIDDEN)


def test_checker_sees_imports_anywhere() -> None:
    source = "import os\nif True:\n    from flask import g\ndef f():\n    import sqlalchemy.orm\n"
    assert imported_top_level(source) == {"os", "flask", "sqlalchemy"}


def test_sources_import_only_stdlib_and_cryptography() -> None:
    sources = sorted(CRYPTO_DIR.rglob("*.py"))
    assert sources, "crypto/ not found"
    for path in sources:
        for name in imported_top_level(path.read_text(encoding="utf-8")):
            assert not is_forbidden(name), f"{path.name} imports {name}"
            allowed = name in sys.stdlib_module_names or name in {"cryptography", "crypto"}
            assert allowed, f"{path.name} imports {name}, which is neither stdlib nor cryptography"


def test_importing_crypto_loads_no_framework() -> None:
    # A fresh interpreter, because this test process has flask and friends loaded already.
    result = subprocess.run(
        [sys.executable, "-c", "import sys, crypto; print('\\n'.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = result.stdout.split()
    assert "crypto" in loaded
    assert not [name for name in loaded if is_forbidden(name.split(".")[0])]
