"""The authorisation matrix over every staff route of the clearing office.

One row per (endpoint, method) in the URL map; one column per actor. A route added to the app
without a row here fails test_matrix_covers_every_staff_route. A refused actor learns nothing: an
object of another municipality gives the same page as an id that does not exist, and the refused
request changes nothing.

Each actor logs in once and walks the whole table (a login per cell would cost minutes); every
cell is checked and all failures are reported together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearing.cases.models import Reminder
from clearing.partners.examples import EXAMPLE_AGREEMENT
from clearing.partners.service import add_partner_user, partner_by_key
from clearing.referrals.models import Referral
from core.config import Config
from core.db import Base
from reporting.models import Case
from tests.factories import Person, World, add_example_alliance, missing_id, refer_case
from tests.web import csrf_token, logged_in_client, normalised, path_for, staff_csrf

# What an actor gets.
LOGIN = "login"  # redirected to the login page, nothing done
LOGGED_OUT = "logged out"  # redirected to the login page with the session ended (log out everywhere)
NOT_FOUND = 404  # the generic 404; on a route with ids, identical to the 404 for ids that do not exist
REFUSED_303 = "refused 303"  # a redirect with the same message as for an id that does not exist

ACTORS = ("anonymous", "officer_a", "officer_b", "coordinator_a", "operator", "partner_a")
N = NOT_FOUND

#                                                       officer A    officer B    coordinator A  network op.  partner of A
MATRIX: dict[tuple[str, str], tuple[Any, Any, Any, Any, Any]] = {
    ("clearing.inbox", "GET"): (200, 200, N, N, N),
    ("clearing.sort_flood", "POST"): (303, 303, N, N, N),
    ("clearing.case", "GET"): (200, N, N, N, N),
    ("clearing.attachment", "GET"): (200, N, N, N, N),
    ("clearing.message", "POST"): (303, N, N, N, N),
    ("clearing.note", "POST"): (303, N, N, N, N),
    ("clearing.assign", "POST"): (303, N, N, N, N),
    ("clearing.assessment", "POST"): (303, N, N, N, N),
    ("clearing.status", "POST"): (303, N, N, N, N),
    ("clearing.refer", "GET"): (200, N, N, N, N),
    ("clearing.refer", "POST"): (303, N, N, N, N),
    ("clearing.approve", "POST"): (303, N, N, N, N),
    ("clearing.resend", "POST"): (303, N, N, N, N),
    ("clearing.dismiss_reminder", "POST"): (303, N, N, N, N),
    ("admin.team", "GET"): (N, N, 200, N, N),
    ("admin.team", "POST"): (N, N, 200, N, N),
    ("admin.confirm_deactivate", "GET"): (N, N, 200, N, N),
    ("admin.deactivate", "POST"): (N, N, 303, N, N),
    ("admin.reactivate", "POST"): (N, N, 303, N, N),
    ("admin.renew_invitation", "POST"): (N, N, 303, N, N),
    ("admin.grants", "GET"): (200, 200, N, N, N),
    ("admin.grants", "POST"): (200, 200, N, N, N),
    ("admin.grant", "POST"): (303, REFUSED_303, N, N, N),
    ("admin.rotate", "POST"): (303, 303, N, N, N),
    ("admin.network", "GET"): (N, N, N, 200, N),
    ("admin.network", "POST"): (N, N, N, 200, N),
    ("alliance.agreements", "GET"): (N, N, 200, N, N),
    ("alliance.agreements", "POST"): (N, N, 303, N, N),
    ("alliance.partners", "GET"): (N, N, 200, N, N),
    ("alliance.partners", "POST"): (N, N, 200, N, N),
    ("alliance.issue_key", "POST"): (N, N, 303, N, N),
    ("admin.status", "GET"): (N, N, 200, 200, N),
    ("admin.office_address", "GET"): (N, N, 200, N, N),
    ("admin.office_address", "POST"): (N, N, 200, N, N),
    ("admin.remove_office_address", "POST"): (N, N, 303, N, N),
    ("auth.account", "GET"): (200, 200, 200, 200, 200),
    ("auth.account", "POST"): (200, 200, 200, 200, 200),
    ("auth.logout_everywhere", "POST"): (LOGGED_OUT, LOGGED_OUT, LOGGED_OUT, LOGGED_OUT, LOGGED_OUT),
}


@dataclass(frozen=True)
class MatrixWorld:
    """The world, plus A's alliance: a partner organisation with a user, two referrals, a reminder."""

    world: World
    partner_a: Person
    partner_id: str
    referral_id: str  # sent to the counselling centre
    waiting_referral_id: str  # to the police, waiting for a second officer (four eyes)
    reminder_id: str


@pytest.fixture
def matrix_world(app: Flask, session: Session, config: Config, world: World) -> MatrixWorld:
    add_example_alliance(session, world.a)
    counselling = partner_by_key(session, world.a.id, "opferberatung")
    assert counselling is not None
    created = add_partner_user(
        session, config, counselling, login="beratung-a", display_name="Beratung A", totp_confirmed=True
    )
    session.commit()
    partner_a = Person(
        created.account.id, created.account.login, created.password, created.totp_secret, "partner", world.a.id
    )
    case = session.get(Case, world.case_a.id)
    assert case is not None
    case.consent_police = True
    session.commit()
    sent = session.get(Referral, refer_case(session, world.a, world.officer_a, case.id, "opferberatung"))
    waiting = session.get(Referral, refer_case(session, world.a, world.officer_a, case.id, "polizei-staatsschutz"))
    assert sent is not None
    assert waiting is not None
    reminder = Reminder(
        municipality_id=world.a.id,
        case_id=case.id,
        kind="acknowledgement",
        due_on=date.today(),
        dedupe_key=f"test:{case.id}",
    )
    session.add(reminder)
    session.commit()
    assert (sent.state, waiting.state) == ("sent", "awaiting_approval")
    return MatrixWorld(world, partner_a, counselling.id, sent.id, waiting.id, reminder.id)


def _form(endpoint: str, m: MatrixWorld) -> dict[str, Any]:
    """A valid form for each POST route (the allowed actor succeeds with it, or is told why not)."""
    forms: dict[str, Callable[[], dict[str, Any]]] = {
        "clearing.message": lambda: {"body": "Guten Tag, wir haben Ihre Meldung erhalten."},
        "clearing.note": lambda: {"note": "Rückruf vereinbaren."},
        "clearing.assign": lambda: {"officer": m.world.officer_a.id},
        "clearing.assessment": lambda: {
            "urgency": "high",
            "escalation_level": "2",
            "incident_types": ["threat"],
            "motives": ["racism"],
            "offences": ["s241"],
        },
        "clearing.status": lambda: {"target": "awaiting_feedback", "reason": ""},  # the case is referred
        "admin.team": lambda: {"login": "neue-person", "display_name": "Neue Person", "role": "officer"},
        "admin.network": lambda: {"slug": "neustadt", "name": "Neustadt"},
        "alliance.agreements": lambda: {"text": EXAMPLE_AGREEMENT},
        "alliance.partners": lambda: {"partner": m.partner_id, "login": "neu-beratung", "display_name": ""},
        "auth.account": lambda: {
            "old_password": "not-the-password",
            "new_password": "a-new-password-2025",
            "repeat": "a-new-password-2025",
        },
    }
    return forms.get(endpoint, dict)()


def _ids(endpoint: str, m: MatrixWorld) -> dict[str, str]:
    """Real ids of municipality A's objects for the URL placeholders."""
    ids = {
        "case_id": m.world.case_a.id,
        "attachment_id": m.world.case_a.attachment_ids[0],
        "account_id": m.world.waiting_a.id,
        "partner_key": "opferberatung",
        "referral_id": m.referral_id,
        "reminder_id": m.reminder_id,
        "partner_id": m.partner_id,
    }
    if endpoint == "clearing.approve":
        ids["referral_id"] = m.waiting_referral_id
    if endpoint == "alliance.issue_key":
        ids["account_id"] = m.partner_a.id
    return ids


def _url(app: Flask, endpoint: str, ids: dict[str, str]) -> tuple[str, list[str]]:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {name: ids[name] for name in rule.arguments}
    return path_for(app, endpoint, **values), list(values.values())


def _state(session: Session) -> dict[str, Any]:
    """Everything a refused request must leave as it was: row counts and the cases' clear columns."""
    session.expire_all()
    counts = {
        t.name: session.scalar(select(func.count()).select_from(t))
        for t in Base.metadata.sorted_tables
        if t.name != "secret_session"
    }
    cases = session.execute(
        select(Case.id, Case.status, Case.urgency, Case.assigned_to, Case.acknowledged_at).order_by(Case.id)
    ).all()
    return {"counts": counts, "cases": [tuple(row) for row in cases]}


def _person(m: MatrixWorld, actor: str) -> Person:
    person: Person = m.partner_a if actor == "partner_a" else getattr(m.world, actor)
    return person


def _request(client: FlaskClient, method: str, path: str, data: dict[str, Any], token: str) -> Any:
    if method == "GET":
        return client.get(path)
    return client.post(path, data={**data, "csrf_token": token})


def _check(
    app: Flask,
    session: Session,
    m: MatrixWorld,
    client: FlaskClient,
    token: str,
    endpoint: str,
    method: str,
    expected: Any,
) -> None:
    path, used_ids = _url(app, endpoint, _ids(endpoint, m))
    data = _form(endpoint, m)
    before = _state(session)
    response = _request(client, method, path, data, token)

    if expected in (LOGIN, LOGGED_OUT):
        assert response.status_code in (302, 303), response.status_code
        assert response.headers["Location"].startswith("/anmelden"), response.headers["Location"]
        if expected == LOGIN:
            assert _state(session) == before, "a refused request changed data"
        else:
            assert client.get("/konto").status_code == 302, "still logged in"
        return
    if expected in (NOT_FOUND, REFUSED_303):
        assert response.status_code == (404 if expected == NOT_FOUND else 303), response.status_code
        assert _state(session) == before, "a refused request changed data"
        first_body = response.get_data(as_text=True)
        if expected == REFUSED_303:
            # What the redirect shows (the flashed message) is part of the answer.
            first_body = client.get(response.headers["Location"]).get_data(as_text=True)
        else:
            assert "Seite nicht gefunden" in first_body
        if used_ids:
            # The same request for ids that do not exist: the refused actor sees exactly the same.
            other_path, other_used = _url(app, endpoint, {name: missing_id() for name in _ids(endpoint, m)})
            other = _request(client, method, other_path, data, token)
            assert other.status_code == response.status_code
            other_body = other.get_data(as_text=True)
            if expected == REFUSED_303:
                assert response.headers["Location"] == other.headers["Location"]
                other_body = client.get(other.headers["Location"]).get_data(as_text=True)
            assert normalised(first_body, used_ids) == normalised(other_body, other_used), (
                "the refusal differs from 'does not exist'"
            )
            assert _state(session) == before
        return
    assert response.status_code == expected, f"{response.status_code} instead of {expected}"
    if expected == 303:
        assert response.headers["Location"].startswith("/")
        # Show the flashed message now, so that it does not turn up on the next cell's page.
        assert client.get(response.headers["Location"]).status_code == 200


def test_matrix_covers_every_staff_route(app: Flask) -> None:
    in_url_map = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("clearing.", "admin.", "alliance."))
        or rule.endpoint in ("auth.account", "auth.logout_everywhere")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert set(MATRIX) == in_url_map


@pytest.mark.parametrize("actor", ACTORS)
def test_authorisation_matrix(app: Flask, session: Session, matrix_world: MatrixWorld, actor: str) -> None:
    if actor == "anonymous":
        client = app.test_client()
        token = csrf_token(client, "/anmelden")
    else:
        client = logged_in_client(app, _person(matrix_world, actor))
        token = staff_csrf(client)
    # Logging out everywhere ends the walk.
    routes = sorted(MATRIX, key=lambda key: (key[0] == "auth.logout_everywhere", key))
    failures = []
    for endpoint, method in routes:
        expected = LOGIN if actor == "anonymous" else MATRIX[(endpoint, method)][ACTORS.index(actor) - 1]
        try:
            _check(app, session, matrix_world, client, token, endpoint, method, expected)
        except AssertionError as failure:
            failures.append(f"{actor} {method} {endpoint}: expected {expected}: {str(failure).splitlines()[0]}")
    assert failures == []


def test_post_without_csrf_token_is_refused(app: Flask, session: Session, matrix_world: MatrixWorld) -> None:
    failures = []
    for client in (
        app.test_client(),
        logged_in_client(app, matrix_world.world.officer_a),
        logged_in_client(app, matrix_world.world.coordinator_a),
    ):
        for endpoint, _method in sorted(key for key in MATRIX if key[1] == "POST"):
            path, _used = _url(app, endpoint, _ids(endpoint, matrix_world))
            before = _state(session)
            response = client.post(path, data=_form(endpoint, matrix_world))
            if response.status_code != 400 or _state(session) != before:
                failures.append(f"{endpoint}: {response.status_code}")
    assert failures == []


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
    assert own.headers["Content-Disposition"].startswith("attachment")
    foreign = client.get(f"/clearing/fall/{world.case_a.id}/datei/{world.case_b.attachment_ids[0]}")
    assert foreign.status_code == 404
    # An over-long id is refused before it reaches the database.
    assert client.get("/clearing/fall/" + "a" * 200).status_code == 404
