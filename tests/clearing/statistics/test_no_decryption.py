"""The statistics never decrypt: the refresh job and every statistics page run on clear metadata.

Everything is arranged and everyone logged in first (that needs keys). Then every decrypting
function of the crypto package raises, except opening the server-side half of a staff login
session (how any staff page knows who is asking), and even that holds no office key for the
coordinator and the network operator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

import crypto
from clearing.statistics import service as statistics
from clearing.statistics.jobs import statistics_refresh
from core.config import Config
from core.custody import OfficeKeyring
from core.models import Municipality
from tests.factories import Sent, Spec, add_case, add_person, add_town, install_alliance, officer_staff, utc
from tests.web import logged_in_client

YEAR = date.today().year - 1
DECRYPTING = (
    "open_sealed",
    "decrypt_bytes_stream",
    "decrypt_stream",
    "iter_decrypt_stream",
    "unwrap_private_key",
    "derive_receipt_keys",
)


def test_statistics_run_without_decrypting(
    app: Flask, session: Session, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    town = add_town(session, "astadt", "Astadt")
    municipality = session.get(Municipality, town.id)
    assert municipality is not None
    municipality.statistics_opt_in = True
    session.commit()
    officer = add_person(session, config, town, "fachkraft-a")
    coordinator = add_person(session, config, town, "koordination-a", role="coordinator")
    operator = add_person(session, config, None, "netzwerk", role="network_operator")
    partners = install_alliance(session, town)
    staff = officer_staff(session, town, officer)
    for month in (1, 2, 5):
        for _ in range(month + 4):
            add_case(
                session,
                config,
                town,
                staff,
                Spec(utc(YEAR, month, 3), referrals=[Sent("counselling", outcome="counselling_started")]),
                partners,
            )
    clients = {who.login: logged_in_client(app, who) for who in (officer, coordinator, operator)}

    forbidden: list[str] = []
    sessions_opened: list[tuple[str, bytes]] = []

    def refuse(name: str) -> Callable[..., Any]:
        def refused(*_args: Any, **_kwargs: Any) -> Any:
            forbidden.append(name)
            raise AssertionError(f"the statistics called crypto.{name}")

        return refused

    real_box_decrypt = crypto.box_decrypt

    def box_decrypt(key: bytes, blob: bytes, *, purpose: str, record_id: str) -> bytes:
        if purpose != "session-staff":
            forbidden.append(f"box_decrypt({purpose})")
            raise AssertionError(f"the statistics decrypted {purpose}")
        plaintext = real_box_decrypt(key, blob, purpose=purpose, record_id=record_id)
        sessions_opened.append((record_id, plaintext))
        return plaintext

    for name in DECRYPTING:
        monkeypatch.setattr(crypto, name, refuse(name))
    monkeypatch.setattr(crypto, "box_decrypt", box_decrypt)

    # The hourly job and a direct refresh.
    with app.app_context():
        statistics_refresh()
    statistics.refresh(session, town.id)
    session.commit()
    assert (
        statistics.counts(session, [town.id], date(YEAR, 1, 1), date(YEAR, 12, 31))[(f"{YEAR}-05", "cases", "all")] == 9
    )

    pages = {
        coordinator.login: ["/statistik", "/statistik.csv", "/statistik/jahresbericht"],
        officer.login: ["/statistik", "/statistik.csv?zeitraum=month"],
        operator.login: ["/netzwerk/statistik", "/netzwerk/statistik.csv"],
    }
    for login, paths in pages.items():
        for path in paths:
            response = clients[login].get(f"{path}{'&' if '?' in path else '?'}jahr={YEAR}")
            assert response.status_code == 200, (login, path)
            body = response.get_data(as_text=True)
            assert "Beratung begonnen" in body or "counselling_started" in body, (login, path)
    assert forbidden == []
    # The coordinator's and the operator's sessions hold no office key; only the officer's does.
    held = dict(sessions_opened)
    assert held[coordinator.id] == b""
    assert held[operator.id] == b""
    assert len(OfficeKeyring.decode(held[officer.id]).current) == 32

    # The control: a page that does decrypt (the officer's inbox opens case keys) is caught.
    with contextlib.suppress(AssertionError):
        clients[officer.login].get("/clearing/")
    assert forbidden
