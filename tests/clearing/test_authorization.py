"""The authorisation matrix over every staff route of the clearing office.

One row per (endpoint, method) in the URL map; one column per actor. A route added to the app
without a row here fails test_matrix_covers_every_staff_route. A refused actor learns nothing: a
case of another municipality gives the same 404 page as a case id that does not exist, and the
refused request changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import Base
from reporting.models import Case
from tests.clearing.conftest import World
from tests.clearing.helpers import logged_in_client, missing_id, normalised, path_for, staff_csrf
from tests.conftest import csrf_token

# What an actor gets.
LOGIN = "login"  # redirected to the login page, nothing done
LOGGED_OUT = "logged out"  # redirected to the login page with the session ended (log out everywhere)
NOT_FOUND = 404  # the generic 404; on a route with ids, identical to the 404 for ids that do not exist
REFUSED_303 = "refused 303"  # a redirect with the same message as for an id that does not exist

ACTORS = ("anonymous", "officer_a", "officer_b", "coordinator_a", "operator")

#                                           officer A   officer B    coordinator A  network operator
MATRIX: dict[tuple[str, str], tuple[Any, Any, Any, Any]] = {
    ("clearing.inbox", "GET"): (200, 200, NOT_FOUND, NOT_FOUND),
    ("clearing.case", "GET"): (200, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ("clearing.attachment", "GET"): (200, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ("clearing.message", "POST"): (303, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ("clearing.note", "POST"): (303, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ("clearing.assign", "POST"): (303, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ("clearing.assessment", "POST"): (303, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ("clearing.status", "POST"): (303, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ("admin.team", "GET"): (NOT_FOUND, NOT_FOUND, 200, NOT_FOUND),
    ("admin.team", "POST"): (NOT_FOUND, NOT_FOUND, 200, NOT_FOUND),
    ("admin.grants", "GET"): (200, 200, NOT_FOUND, NOT_FOUND),
    ("admin.grants", "POST"): (200, 200, NOT_FOUND, NOT_FOUND),
    ("admin.grant", "POST"): (303, REFUSED_303, NOT_FOUND, NOT_FOUND),
    ("admin.network", "GET"): (NOT_FOUND, NOT_FOUND, NOT_FOUND, 200),
    ("admin.network", "POST"): (NOT_FOUND, NOT_FOUND, NOT_FOUND, 200),
    ("auth.account", "GET"): (200, 200, 200, 200),
    ("auth.account", "POST"): (200, 200, 200, 200),
    ("auth.logout_everywhere", "POST"): (LOGGED_OUT, LOGGED_OUT, LOGGED_OUT, LOGGED_OUT),
}


def _form(endpoint: str, world: World) -> dict[str, Any]:
    """A valid form for each POST route (the officer of A would succeed with it)."""
    forms: dict[str, Callable[[], dict[str, Any]]] = {
        "clearing.message": lambda: {"body": "Guten Tag, wir haben Ihre Meldung erhalten."},
        "clearing.note": lambda: {"note": "Rückruf vereinbaren."},
        "clearing.assign": lambda: {"officer": world.officer_a.id},
        "clearing.assessment": lambda: {"urgency": "high", "escalation_level": "2", "incident_types": ["threat"], "motives": ["racism"], "offences": ["s241"]},
        "clearing.status": lambda: {"target": "in_review", "reason": ""},
        "admin.team": lambda: {"login": "neue-person", "display_name": "Neue Person", "role": "officer"},
        "admin.network": lambda: {"slug": "neustadt", "name": "Neustadt"},
        "auth.account": lambda: {"old_password": "not-the-password", "new_password": "a-new-password-2025", "repeat": "a-new-password-2025"},
    }
    return forms.get(endpoint, dict)()


def _ids(world: World) -> dict[str, str]:
    """Real ids of municipality A's objects for the URL placeholders."""
    return {"case_id": world.case_a.id, "attachment_id": world.case_a.attachment_ids[0], "account_id": world.waiting_a.id}


def _url(app: Flask, endpoint: str, ids: dict[str, str]) -> tuple[str, list[str]]:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {name: ids[name] for name in rule.arguments}
    return path_for(app, endpoint, **values), list(values.values())


def _state(session: Session) -> dict[str, Any]:
    """Everything a refused request must leave as it was: row counts and the cases' clear columns."""
    session.expire_all()
    counts = {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables if t.name != "secret_session"}
    cases = session.execute(select(Case.id, Case.status, Case.urgency, Case.assigned_to, Case.acknowledged_at).order_by(Case.id)).all()
    return {"counts": counts, "cases": [tuple(row) for row in cases]}


def _client_for(app: Flask, world: World, actor: str) -> FlaskClient:
    if actor == "anonymous":
        return app.test_client()
    return logged_in_client(app, getattr(world, actor))


def _request(client: FlaskClient, method: str, path: str, data: dict[str, Any], token: str) -> Any:
    if method == "GET":
        return client.get(path)
    return client.post(path, data={**data, "csrf_token": token})


def test_matrix_covers_every_staff_route(app: Flask) -> None:
    in_url_map = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("clearing.", "admin.")) or rule.endpoint in ("auth.account", "auth.logout_everywhere")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert set(MATRIX) == in_url_map


@pytest.mark.parametrize(("endpoint", "method"), sorted(MATRIX))
@pytest.mark.parametrize("actor", ACTORS)
def test_authorisation_matrix(app: Flask, session: Session, world: World, actor: str, endpoint: str, method: str) -> None:
    expected = LOGIN if actor == "anonymous" else MATRIX[(endpoint, method)][ACTORS.index(actor) - 1]
    client = _client_for(app, world, actor)
    token = csrf_token(client, "/anmelden") if actor == "anonymous" else staff_csrf(client)
    path, used_ids = _url(app, endpoint, _ids(world))
    data = _form(endpoint, world)
    before = _state(session)

    response = _request(client, method, path, data, token)

    if expected == LOGIN:
        assert response.status_code in (302, 303)
        assert response.headers["Location"].startswith("/anmelden")
        assert _state(session) == before
        return
    if expected == LOGGED_OUT:
        assert response.status_code in (302, 303)
        assert response.headers["Location"].startswith("/anmelden")
        assert client.get("/konto").status_code == 302
        return
    if expected in (NOT_FOUND, REFUSED_303):
        assert _state(session) == before, "a refused request changed data"
        if used_ids:
            # The same request for ids that do not exist: the refused actor sees exactly the same.
            first_body = response.get_data(as_text=True)
            if expected == REFUSED_303:
                # What the redirect shows (the flashed message) is part of the answer.
                first_body = client.get(response.headers["Location"]).get_data(as_text=True)
            other_ids = {name: missing_id() for name in ("case_id", "attachment_id", "account_id")}
            other_path, other_used = _url(app, endpoint, other_ids)
            other = _request(client, method, other_path, data, token)
            assert other.status_code == response.status_code
            other_body = other.get_data(as_text=True)
            if expected == REFUSED_303:
                assert response.headers["Location"] == other.headers["Location"]
                other_body = client.get(other.headers["Location"]).get_data(as_text=True)
            assert normalised(first_body, used_ids) == normalised(other_body, other_used)
            assert _state(session) == before
        if expected == NOT_FOUND:
            assert response.status_code == 404
            assert "Seite nicht gefunden" in response.get_data(as_text=True)
        else:
            assert response.status_code == 303
        return
    assert response.status_code == expected, response.get_data(as_text=True)[:2000]
    if expected == 303:
        assert response.headers["Location"].startswith("/")


@pytest.mark.parametrize(("endpoint", "method"), sorted(key for key in MATRIX if key[1] == "POST"))
def test_post_without_csrf_token_is_refused(app: Flask, session: Session, world: World, endpoint: str, method: str) -> None:
    for client in (app.test_client(), logged_in_client(app, world.officer_a)):
        path, _used = _url(app, endpoint, _ids(world))
        before = _state(session)
        response = client.post(path, data=_form(endpoint, world))
        assert response.status_code == 400
        assert _state(session) == before


def test_inbox_lists_only_the_own_municipality(app: Flask, world: World) -> None:
    page_a = logged_in_client(app, world.officer_a).get("/clearing/").get_data(as_text=True)
    page_b = logged_in_client(app, world.officer_b).get("/clearing/").get_data(as_text=True)
    assert world.case_a.reference in page_a
    assert world.case_b.reference not in page_a
    assert world.case_b.reference in page_b
    assert world.case_a.reference not in page_b


def test_attachment_of_another_case_is_not_reachable_through_an_own_case(app: Flask, world: World) -> None:
    client = logged_in_client(app, world.officer_a)
    own = client.get(f"/clearing/fall/{world.case_a.id}/datei/{world.case_a.attachment_ids[0]}")
    assert own.status_code == 200
    foreign = client.get(f"/clearing/fall/{world.case_a.id}/datei/{world.case_b.attachment_ids[0]}")
    assert foreign.status_code == 404
    # An over-long id is refused before it reaches the database.
    assert client.get("/clearing/fall/" + "a" * 200).status_code == 404
