"""The `komma` command line."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from clearing.demo import DEMO_NETWORK_ACCOUNT, DEMO_SLUG
from clearing.statistics.models import StatisticsRefresh
from core.accounts import account_by_login, totp_secret_with_password
from core.config import PROJECT_ROOT
from core.models import Account, Municipality, OfficeKeyGrant
from core.tenancy import parse_recovery_key
from crypto import open_sealed, public_key_of


def test_municipality_add_prints_a_recovery_key_that_opens_the_office_key(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["municipality", "add", "beispielstadt", "Beispielstadt", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    recovery_private = parse_recovery_key(created["recovery_key"])
    session = app.extensions["komma"].session_factory()
    municipality = session.get(Municipality, created["id"])
    grant = session.scalar(select(OfficeKeyGrant).where(OfficeKeyGrant.municipality_id == created["id"]))
    office_private = open_sealed(
        recovery_private, grant.sealed_private_key, purpose="office-key", record_id=f"{created['id']}/recovery"
    )
    assert public_key_of(office_private) == municipality.office_public_key
    # The recovery key itself is stored nowhere.
    assert created["recovery_key"].encode() not in grant.sealed_private_key
    session.close()


def test_municipality_add_refuses_bad_slug_and_duplicates(app: Flask) -> None:
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["municipality", "add", "Bad Slug!", "X"])
    assert bad.exit_code != 0
    assert "slug" in bad.output
    assert runner.invoke(args=["municipality", "add", "dorf", "Dorf"]).exit_code == 0
    again = runner.invoke(args=["municipality", "add", "dorf", "Dorf"])
    assert again.exit_code != 0
    assert "exists" in again.output
    listed = runner.invoke(args=["municipality", "list"])
    assert "dorf\tDorf" in listed.output


def test_demo_is_idempotent_and_appears_on_the_start_page(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert "exists" in runner.invoke(args=["demo"]).output
    page = app.test_client().get("/").get_data(as_text=True)
    assert "Musterstadt" in page


def test_demo_prints_a_network_operator_and_counts_the_statistics(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    login, role, _name, password = DEMO_NETWORK_ACCOUNT
    line = re.search(rf"^  {login} / {password} / TOTP secret ([A-Z2-7]+)", first.output, re.M)
    assert line, first.output
    session = app.extensions["komma"].session_factory()
    account = account_by_login(session, login)
    assert account is not None
    assert account.role == role
    assert account.municipality_id is None
    assert totp_secret_with_password(app.extensions["komma"].config, account, password) == line.group(1)
    municipality = session.scalar(select(Municipality).where(Municipality.slug == DEMO_SLUG))
    assert municipality is not None
    assert municipality.statistics_opt_in
    assert session.get(StatisticsRefresh, municipality.id) is not None
    session.close()
    # Again: nothing new, the same login printed, the statistics counted once more.
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert "exists" in again.output
    assert line.group(0) in again.output
    session = app.extensions["komma"].session_factory()
    assert len(session.scalars(select(Account).where(Account.role == role)).all()) == 1
    session.close()


def komma(tmp_path: Path, *args: str, port: int | None = None) -> subprocess.Popen[str]:
    """`komma ARGS` as a newcomer runs it, on an SQLite file of its own."""
    env = {**os.environ, "KOMMA_INSTANCE_PATH": str(tmp_path / "instance"), "KOMMA_ARGON2": "test"}
    env.pop("KOMMA_DATABASE_URL", None)
    env.pop("KOMMA_REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_make_run_migrates_quietly_and_ends_with_the_address(tmp_path: Path) -> None:
    upgrade = komma(tmp_path, "db", "upgrade")
    out, err = upgrade.communicate(timeout=120)
    assert upgrade.returncode == 0, err
    # No Alembic chatter: the one line of the command, nothing on stderr.
    assert (out, err) == ("database is up to date\n", "")

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = komma(tmp_path, "run", "--host", "127.0.0.1", "--port", str(port))
    try:
        assert server.stdout is not None
        assert server.stdout.readline() == f"Komm.A läuft auf http://127.0.0.1:{port}\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            assert response.status == 200
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=30)
    # Only the request log follows, naming no client.
    assert "127.0.0.1" not in err
    assert "Running on" not in err


def test_readme_links_nothing_outside_the_repository_and_names_port_and_host() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "make run PORT=8000 HOST=0.0.0.0" in readme
    # No link at all to a web address (autolinks, Markdown links, reference definitions), and any
    # address written out is this machine's.
    assert not re.search(r"<https?://|\]\(\s*https?://|^\s*\[[^\]]+\]:\s*https?://", readme, re.M | re.I)
    hosts = set(re.findall(r"https?://([^/:\s`)>]+)", readme, re.I))
    assert hosts <= {"127.0.0.1", "localhost", "H", "HOST"}, hosts
    # Markdown links lead to files of the repository.
    for target in re.findall(r"\]\(([^)\s]+)\)", readme):
        path = (PROJECT_ROOT / target.split("#", 1)[0]).resolve()
        assert PROJECT_ROOT.resolve() in path.parents, target
        assert path.exists(), target
