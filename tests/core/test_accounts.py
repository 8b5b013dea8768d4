"""Staff accounts: Argon2id passwords, TOTP without reuse, growing delay after failures, the CLI."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pyotp
import pytest
from flask import Flask
from sqlalchemy.orm import Session

import crypto
from core import accounts
from core.accounts import AccountError, LoginDelayed, LoginRefused, check_password, check_totp, create_account
from core.config import Config
from core.db import utcnow
from core.models import Account
from tests.factories import Person, Town, add_person, add_town, config_of
from tests.web import accept_invitation, invitation_path, log_in


@pytest.fixture
def config(app: Flask) -> Config:
    return config_of(app)


@pytest.fixture
def town(session: Session) -> Town:
    return add_town(session, "kontostadt", "Kontostadt")


@pytest.fixture
def officer(session: Session, config: Config, town: Town) -> Person:
    return add_person(session, config, town, "fachkraft", display_name="Frieda Fachkraft")


def _account(session: Session, person: Person) -> Account:
    session.flush()
    session.expire_all()
    account = session.get(Account, person.id)
    assert account is not None
    return account


def test_password_is_hashed_with_argon2id(session: Session, config: Config, officer: Person) -> None:
    account = _account(session, officer)
    assert account.password_hash.startswith("$argon2id$v=19$")
    assert officer.password not in account.password_hash
    assert crypto.verify_password(account.password_hash, officer.password)
    assert not crypto.verify_password(account.password_hash, officer.password + "x")
    # The account key is wrapped under the password with Argon2id too, and opens only with it.
    assert (
        crypto.public_key_of(crypto.unwrap_private_key(account.wrapped_private_key, officer.password))
        == account.public_key
    )
    with pytest.raises(crypto.CryptoError):
        crypto.unwrap_private_key(account.wrapped_private_key, "a wrong password")
    # The TOTP secret is not stored in clear.
    assert officer.totp_secret.encode() not in account.totp_ciphertext
    # It is sealed to the account key, so it opens with the password's key and nothing else.
    private_key = crypto.unwrap_private_key(account.wrapped_private_key, officer.password)
    assert accounts.totp_secret(account, private_key) == officer.totp_secret


# Two lanes, as the parameters before 0007 had four: what matters is that they differ.
OLDER_PARAMS = crypto.Argon2Params(memory_kib=16, iterations=1, lanes=2)


def test_hash_and_key_of_older_parameters_still_log_in_and_are_renewed(
    session: Session, config: Config, officer: Person
) -> None:
    account = _account(session, officer)
    private_key = crypto.unwrap_private_key(account.wrapped_private_key, officer.password)
    account.password_hash = crypto.hash_password(officer.password, params=OLDER_PARAMS)
    account.wrapped_private_key = crypto.wrap_private_key(private_key, officer.password, params=OLDER_PARAMS)
    session.flush()
    assert crypto.password_hash_needs_update(account.password_hash, config.argon2)
    assert crypto.wrapped_key_needs_update(account.wrapped_private_key, config.argon2)

    logged_in, unwrapped = check_password(session, config, officer.login, officer.password)
    assert unwrapped == private_key
    # Renewed with the password at hand: the next login derives with today's parameters only.
    assert not crypto.password_hash_needs_update(logged_in.password_hash, config.argon2)
    assert not crypto.wrapped_key_needs_update(logged_in.wrapped_private_key, config.argon2)
    renewed = _account(session, officer)
    assert crypto.unwrap_private_key(renewed.wrapped_private_key, officer.password) == private_key
    assert check_password(session, config, officer.login, officer.password)[1] == private_key


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"role": "admin"}, "role"),
        ({"login": "Ab"}, "login"),
        ({"login": "mit leerzeichen"}, "login"),
        ({"role": "network_operator"}, "municipality"),
        ({"password": "kurz"}, "password"),
        ({"login": "fachkraft"}, "exists"),
    ],
)
def test_account_creation_refuses_bad_input(
    session: Session, config: Config, town: Town, officer: Person, values: dict[str, str], message: str
) -> None:
    arguments: dict[str, str | None] = {"login": "neue-person", "role": "officer", "municipality_id": town.id, **values}
    with pytest.raises(AccountError, match=message):
        create_account(session, config, **arguments)  # type: ignore[arg-type]
    with pytest.raises(AccountError, match="municipality"):
        create_account(session, config, login="netz", role="network_operator", municipality_id=town.id)


def test_totp_accepts_the_window_and_never_the_same_code_twice(
    session: Session, config: Config, officer: Person
) -> None:
    account = _account(session, officer)
    key = crypto.unwrap_private_key(account.wrapped_private_key, officer.password)
    totp = pyotp.TOTP(officer.totp_secret)
    now = time.time()
    with pytest.raises(LoginRefused):
        check_totp(account, key, totp.at(now - 90))  # three steps back
    account.failed_logins, account.locked_until = 0, None
    check_totp(account, key, totp.at(now))
    with pytest.raises(LoginRefused):
        check_totp(account, key, totp.at(now))  # the same code again
    account.failed_logins, account.locked_until = 0, None
    with pytest.raises(LoginRefused):
        check_totp(account, key, totp.at(now - 30))  # an older step after a newer one
    account.failed_logins, account.locked_until = 0, None
    check_totp(account, key, totp.at(now + 30))  # the next step, once
    account.failed_logins, account.locked_until = 0, None
    with pytest.raises(LoginRefused):
        check_totp(account, key, totp.at(now + 30))
    account.failed_logins, account.locked_until = 0, None
    with pytest.raises(LoginRefused):
        check_totp(account, key, "")
    session.rollback()


def _fail(session: Session, config: Config, person: Person) -> None:
    with pytest.raises(LoginRefused):
        check_password(session, config, person.login, "not the password at all")


def _expire_delay(session: Session, person: Person) -> None:
    account = _account(session, person)
    account.locked_until = utcnow() - timedelta(seconds=1)
    session.flush()


def test_failed_logins_delay_the_account_more_and_more(session: Session, config: Config, officer: Person) -> None:
    _fail(session, config, officer)
    _fail(session, config, officer)
    assert _account(session, officer).locked_until is None  # two free attempts
    delays = []
    for _ in range(6):
        before = utcnow()
        _fail(session, config, officer)
        locked_until = _account(session, officer).locked_until
        assert locked_until is not None
        delays.append(round((locked_until - before).total_seconds()))
        # While delayed, even the right password is not checked.
        with pytest.raises(LoginDelayed) as delayed:
            check_password(session, config, officer.login, officer.password)
        assert delayed.value.until == locked_until
        _expire_delay(session, officer)
    assert delays == [2, 4, 8, 16, 32, 64]
    # The delay has a ceiling.
    account = _account(session, officer)
    account.failed_logins = 40
    _fail(session, config, officer)
    locked_until = _account(session, officer).locked_until
    assert locked_until is not None
    assert timedelta(minutes=14) < locked_until - utcnow() <= accounts.MAX_DELAY
    # Wrong TOTP codes count the same way; a right code ends the delay.
    _expire_delay(session, officer)
    account = _account(session, officer)
    key = crypto.unwrap_private_key(account.wrapped_private_key, officer.password)
    with pytest.raises(LoginRefused):
        check_totp(account, key, "000000" if pyotp.TOTP(officer.totp_secret).now() != "000000" else "111111")
    assert account.locked_until is not None
    account.locked_until = None
    check_totp(account, key, pyotp.TOTP(officer.totp_secret).now())
    assert (account.failed_logins, account.locked_until) == (0, None)
    session.rollback()


def test_unknown_and_inactive_logins_are_refused_like_a_wrong_password(
    session: Session, config: Config, officer: Person
) -> None:
    with pytest.raises(LoginRefused):
        check_password(session, config, "niemand", "irgendein passwort")
    _account(session, officer).active = False
    session.flush()
    with pytest.raises(LoginRefused):
        check_password(session, config, officer.login, officer.password)
    session.rollback()


# The command line -----------------------------------------------------------------------------------


def test_account_add_json_prints_an_invitation_with_which_the_holder_logs_in(
    app: Flask, session: Session, town: Town
) -> None:
    result = app.test_cli_runner().invoke(
        args=["account", "add", "neue-fachkraft", "--municipality", town.slug, "--name", "Neue Fachkraft", "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert {"login", "invitation_link", "id", "role"} == set(printed)
    assert printed["login"] == "neue-fachkraft"
    assert printed["role"] == "officer"
    # No credential is printed: the holder chooses the password and gets the TOTP secret.
    client = app.test_client()
    secret, done = accept_invitation(app, client, invitation_path(printed["invitation_link"]), "ein eigenes Passwort")
    assert done.headers["Location"] == "/clearing/"
    # Created by the command, the officer holds no office key yet.
    assert "noch keinen Zugang zu den Fallinhalten" in client.get("/clearing/").get_data(as_text=True)
    person = Person(printed["id"], printed["login"], "ein eigenes Passwort", secret, "officer", town.id)
    assert log_in(app, app.test_client(), person).headers["Location"] == "/clearing/"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["account", "add", "x1-person", "--municipality", "nirgendwo"], "no municipality"),
        (["account", "add", "Falscher Name", "--municipality", "kontostadt"], "login"),
        (
            ["account", "add", "netz-person", "--role", "network_operator", "--municipality", "kontostadt"],
            "municipality",
        ),
    ],
)
def test_account_add_refuses_with_a_message(app: Flask, town: Town, args: list[str], message: str) -> None:
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output


def test_network_operator_from_the_command_line(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["account", "add", "netzwerk", "--role", "network_operator"])
    assert result.exit_code == 0, result.output
    assert "password" not in result.output.replace("own password", "")
    _secret, done = accept_invitation(app, app.test_client(), invitation_path(result.output), "netzwerk passwort")
    assert done.headers["Location"] == "/verwaltung/netzwerk"
    # The link is printed again only on request, as a new one; the used one stays used.
    again = app.test_cli_runner().invoke(args=["account", "invite", "netzwerk"])
    assert again.exit_code != 0
    assert "taken up" in again.output


DEMO_LINE = re.compile(r"^\s+(demo-[a-z]+) / (\S+) / TOTP secret ([A-Z2-7]+)", re.MULTILINE)


def test_demo_prints_staff_credentials_that_log_in(app: Flask, session: Session) -> None:
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    printed = {login: (password, secret) for login, password, secret in DEMO_LINE.findall(result.output)}
    assert {"demo-fachkraft", "demo-koordination"} <= set(printed)
    homes = {"demo-fachkraft": "/clearing/", "demo-koordination": "/verwaltung/team"}
    for login, home in homes.items():
        password, secret = printed[login]
        account = accounts.account_by_login(session, login)
        assert account is not None
        person = Person(account.id, login, password, secret, account.role, account.municipality_id)
        client = app.test_client()
        assert log_in(app, client, person).headers["Location"] == home
        page = client.get(home).get_data(as_text=True)
        assert "noch keinen Zugang" not in page  # the demo officer holds the office key
    # Run again, it prints the same credentials.
    again = app.test_cli_runner().invoke(args=["demo"])
    assert again.exit_code == 0
    assert {login: (p, s) for login, p, s in DEMO_LINE.findall(again.output)} == printed


def test_unknown_logins_are_delayed_like_real_ones(session: Session, config: Config, officer: Person) -> None:
    """The growing delay must not tell an attacker which logins exist."""
    outcomes = {}
    for login in (officer.login, "niemand-hier"):
        seen = []
        for _ in range(accounts.FREE_ATTEMPTS + 1):
            try:
                check_password(session, config, login, "falsches-passwort-123")
            except LoginRefused:
                seen.append("refused")
            except LoginDelayed:
                seen.append("delayed")
            session.flush()
        outcomes[login] = seen
    assert outcomes[officer.login] == outcomes["niemand-hier"]
    assert outcomes["niemand-hier"][-1] == "delayed"
