"""Acting on the site as a browser would, through Flask's test client: CSRF tokens, logging in,
the report form and the mailbox, the officer's forms, and reading what the pages show."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

import pyotp
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, stream_encode_multipart

import crypto
from core.models import Account
from reporting.models import Case
from tests.factories import DESCRIPTION, Alliance, Person, Reported, Town, new_session
from tests.smtp import ReceivedMail, SmtpServer

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CSRF_VALUE_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")')
RECEIPT_RE = re.compile(r'data-testid="receipt-code">(\d{4} \d{4} \d{4} \d{4})<')
CODE_RE = re.compile(r"\b\d{4} \d{4} \d{4} \d{4}\b")
REFERENCE_RE = re.compile(r"\bK-[A-Z0-9]{8}\b")
FILE_INPUT_RE = re.compile(r'name="files" value="([0-9a-f]+)"><label for="file-\d+">([^<]+)</label>')
TOTP_INTERVAL = 30
MAILBOX_LOGIN = "/postfach"
MAILBOX = "/postfach/ansicht"


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on a page, as a browser would send it back."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page) or re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


CHALLENGE_RE = re.compile(r'name="challenge" value="([^"]+)" data-challenge-bits="(\d+)"')


def challenge_answer(page: str) -> dict[str, str]:
    """A page's proof-of-work challenge with its solution, as static/js/challenge.js sends it
    ({} for a page without one)."""
    match = CHALLENGE_RE.search(page)
    if match is None:
        return {}
    token, bits = match.group(1), int(match.group(2))
    return {"challenge": token, "solution": crypto.solve_work(token.encode(), bits)}


def solved_challenge(client: FlaskClient, path: str) -> dict[str, str]:
    """The challenge of the page at `path`, solved."""
    answer = challenge_answer(client.get(path).get_data(as_text=True))
    assert answer, f"no challenge on {path}"
    return answer


def post_form(
    client: FlaskClient,
    path: str,
    data: dict[str, Any],
    uploads: Iterable[tuple[str, bytes]] = (),
    *,
    token_from: str | None = None,
    csrf: bool = True,
) -> TestResponse:
    """A multipart POST with the CSRF token taken from the page, as a browser sends it."""
    body: dict[str, Any] = dict(data)
    if csrf:
        body["csrf_token"] = csrf_token(client, token_from or path)
    chosen = [FileStorage(io.BytesIO(content), filename=name) for name, content in uploads]
    if chosen:
        body["files"] = chosen
    # Encoded here, in memory: the test client spools bodies over 500 kB to a file it never closes.
    stream, _length, boundary = stream_encode_multipart(body, use_tempfile=False)
    return client.post(path, data=stream.getvalue(), content_type=f"multipart/form-data; boundary={boundary}")


def path_for(app: Flask, endpoint: str, **values: str) -> str:
    with app.test_request_context():
        return url_for(endpoint, **values)


def cookie_session(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """The decoded Flask session cookie of a test client (signed, not encrypted)."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return {}
    data: dict[str, Any] = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    return data


# Staff logging in -------------------------------------------------------------------------------------


def totp_code(app: Flask, person: Person) -> str:
    """A code of a step this account has not used yet (the server accepts current and current+1).

    A step can be used once per account; a second login within the same 30 s takes the next step.
    """
    with new_session(app) as db:
        account = db.get(Account, person.id)
        assert account is not None
        last = account.last_totp_step
    totp = pyotp.TOTP(person.totp_secret)
    current = int(time.time()) // TOTP_INTERVAL
    for step in (current, current + 1):
        if step > last:
            return totp.at(step * TOTP_INTERVAL)
    raise AssertionError(f"{person.login}: no unused TOTP step left in the accepted window (third login within 30 s)")


def with_next(path: str, next_path: str | None) -> str:
    return f"{path}?next={next_path}" if next_path else path


def submit_password(client: FlaskClient, login: str, password: str, next_path: str | None = None) -> TestResponse:
    token = csrf_token(client, with_next("/anmelden", next_path))
    return client.post(
        with_next("/anmelden", next_path), data={"login": login, "password": password, "csrf_token": token}
    )


def submit_code(client: FlaskClient, code: str, next_path: str | None = None) -> TestResponse:
    token = csrf_token(client, with_next("/anmelden/code", next_path))
    return client.post(with_next("/anmelden/code", next_path), data={"code": code, "csrf_token": token})


def log_in(
    app: Flask, client: FlaskClient, person: Person, *, password: str | None = None, next_path: str | None = None
) -> TestResponse:
    """Password, then TOTP, over HTTP; returns the redirect after the code step."""
    first = submit_password(client, person.login, password or person.password, next_path)
    assert first.status_code == 303, f"password step refused for {person.login}: {first.status_code}"
    assert first.headers["Location"].startswith("/anmelden/code")
    second = submit_code(client, totp_code(app, person), next_path)
    assert second.status_code == 303, f"code step refused for {person.login}: {second.status_code}"
    return second


INVITATION_LINK_RE = re.compile(r"https?://[^\s<\"]+(/einladung/[A-Za-z0-9_-]+)")
ENROLMENT_SECRET_RE = re.compile(r'<code class="receipt-code">([A-Z2-7 ]+)</code>')


def invitation_path(page_or_output: str) -> str:
    """The path of the invitation link a page (or the command line) shows once."""
    match = INVITATION_LINK_RE.search(page_or_output)
    assert match, "no invitation link shown"
    return match.group(1)


def accept_invitation(app: Flask, client: FlaskClient, path: str, password: str) -> tuple[str, TestResponse]:
    """As the invited holder: the password on the link's page, then the TOTP enrolment and its first code.

    Returns the TOTP secret read from the enrolment page and the response to the code step.
    """
    chosen = client.post(path, data={"password": password, "repeat": password, "csrf_token": csrf_token(client, path)})
    assert chosen.status_code == 303, f"invitation refused: {chosen.status_code}"
    assert chosen.headers["Location"].startswith("/anmelden/code")
    page = client.get(chosen.headers["Location"]).get_data(as_text=True)
    shown = ENROLMENT_SECRET_RE.search(page)
    assert shown, "no TOTP enrolment after the password"
    secret = shown.group(1).replace(" ", "")
    return secret, submit_code(client, pyotp.TOTP(secret).now())


def logged_in_client(app: Flask, person: Person) -> FlaskClient:
    client = app.test_client()
    log_in(app, client, person)
    return client


def staff_csrf(client: FlaskClient) -> str:
    """A CSRF token of a logged-in staff member's session (the account page has forms for everyone)."""
    return csrf_token(client, "/konto")


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None) -> TestResponse:
    """A logged-in staff member's form post."""
    return client.post(path, data={**(data or {}), "csrf_token": staff_csrf(client)})


# The report form ------------------------------------------------------------------------------------


def full_report(**overrides: Any) -> dict[str, Any]:
    """Every field of the intake form filled in, as a browser posts it (checkboxes: "y"); None drops a field."""
    data: dict[str, Any] = {
        "acute_danger": "no",
        "reporter_role": "affected",
        "affected_role": "council_member",
        "incident_types": ["threat", "hate_speech"],
        "description": "Nach der Ratssitzung wurde ich auf dem Parkplatz bedroht und beschimpft.",
        "motives": ["racism", "political_engagement"],
        "incident_date": "2025-03-05",
        "incident_month": "2025-03",
        "incident_time": "19:30",
        "ongoing": "y",
        "known_since": "2025-03-06",
        "channel": "public_space",
        "place": "Parkplatz am Rathaus",
        "platform": "Kein Netzwerk",
        "urls": "https://example.org/beitrag/1\nhttps://example.org/profil/2",
        "perpetrator": "citizen",
        "perpetrator_description": "Ein Mann, etwa 50 Jahre alt",
        "evidence_found": "Ich selbst, am selben Abend",
        "done_police": "y",
        "police_reference": "ST/1234/25",
        "done_supervisor": "y",
        "consent_counselling": "y",
        "consent_police": "y",
        "contact": "email",
        "contact_email": "person@example.org",
        "contact_phone": "0170 1234567",
        "website": "",
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def report_form(**overrides: Any) -> dict[str, Any]:
    """A form for the referral tests: counselling and employer consent, no police consent; None drops a field."""
    data: dict[str, Any] = {
        "reporter_role": "affected",
        "affected_role": "admin_staff",
        "channel": "email",
        "incident_types": ["insult_defamation"],
        "motives": ["racism"],
        "description": "Eine rassistische Mail an das Bürgerbüro.",
        "place": "Bürgerbüro am Markt",
        "urls": "https://example.org/beitrag/1",
        "perpetrator": "citizen",
        "perpetrator_description": "Absender mit Fantasienamen",
        "acute_danger": "no",
        "consent_counselling": "y",
        "consent_employer": "y",
        "contact": "email",
        "contact_email": "betroffen@example.org",
    }
    for name, value in overrides.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def minimal_report_form(**overrides: Any) -> dict[str, Any]:
    """The required fields only, counselling consent, the mailbox as contact (the reliability tests')."""
    data: dict[str, Any] = {
        "reporter_role": "affected",
        "affected_role": "admin_staff",
        "channel": "email",
        "incident_types": ["insult_defamation"],
        "motives": ["racism"],
        "description": DESCRIPTION,
        "perpetrator": "citizen",
        "acute_danger": "no",
        "consent_counselling": "y",
        "contact": "mailbox",
    }
    data.update(overrides)
    return data


def post_report(
    client: FlaskClient, town: Town, data: dict[str, Any] | None = None, uploads: Iterable[tuple[str, bytes]] = ()
) -> TestResponse:
    """The report form (full_report unless given) posted to the town's intake."""
    return post_form(client, f"/melden/{town.slug}", full_report() if data is None else data, uploads)


def read_receipt(client: FlaskClient, town: Town) -> tuple[str, TestResponse]:
    page = client.get(f"/melden/{town.slug}/eingang")
    match = RECEIPT_RE.search(page.get_data(as_text=True))
    assert match, "no receipt code on the receipt page"
    return match.group(1), page


def submit(
    client: FlaskClient, town: Town, data: dict[str, Any] | None = None, uploads: Iterable[tuple[str, bytes]] = ()
) -> str:
    """A successful report; returns the receipt code (in groups of four)."""
    response = post_report(client, town, data, uploads)
    assert response.status_code == 303, response.get_data(as_text=True)
    return read_receipt(client, town)[0]


def submit_report_form(
    app: Flask, session: Session, town: Town, files: list[tuple[str, bytes]] | None = None, **overrides: Any
) -> Reported:
    """A report (report_form) through the public intake form; returns the new case's id and the receipt code."""
    client = app.test_client()
    path = f"/melden/{town.slug}"
    data = {**report_form(**overrides), "csrf_token": csrf_token(client, path)}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
    before = set(session.scalars(select(Case.id).where(Case.municipality_id == town.id)))
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    match = RECEIPT_RE.search(page)
    assert match, "no receipt code shown"
    session.expire_all()
    (case_id,) = set(session.scalars(select(Case.id).where(Case.municipality_id == town.id))) - before
    return Reported(case_id, match.group(1).replace(" ", ""))


def post_minimal_report(app: Flask, slug: str, files: list[tuple[str, bytes]] | None = None) -> str:
    """The minimal form over HTTP; asserts the 303 and the receipt page; returns the receipt code."""
    client = app.test_client()
    path = f"/melden/{slug}"
    data = {**minimal_report_form(), "csrf_token": csrf_token(client, path)}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    match = RECEIPT_RE.search(page.get_data(as_text=True))
    assert match, "no receipt code on the receipt page"
    return match.group(1).replace(" ", "")


# The reporter's mailbox --------------------------------------------------------------------------------


def mailbox_login(client: FlaskClient, code: str, *, solve: bool = False) -> TestResponse:
    """The receipt code entered on the mailbox's login page (with the page's challenge solved, as
    a browser with JavaScript does, when `solve`)."""
    data = {"csrf_token": csrf_token(client, MAILBOX_LOGIN), "code": code}
    if solve:
        data.update(solved_challenge(client, MAILBOX_LOGIN))
    return client.post(MAILBOX_LOGIN, data=data)


def open_mailbox(client: FlaskClient, code: str) -> str:
    response = mailbox_login(client, code)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(MAILBOX)
    page = client.get(MAILBOX)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def post_mailbox(
    client: FlaskClient,
    action: str,
    data: dict[str, Any],
    uploads: Iterable[tuple[str, bytes]] = (),
    *,
    token_from: str = MAILBOX,
) -> TestResponse:
    return post_form(client, f"/postfach/{action}", data, uploads, token_from=token_from)


def mailbox_client(app: Flask, receipt_code: str) -> FlaskClient:
    """A client logged in to the mailbox of this receipt code."""
    client = app.test_client()
    response = mailbox_login(client, receipt_code)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return client


def change_consents(client: FlaskClient, **consents: bool) -> TestResponse:
    token = csrf_token(client, MAILBOX)
    data = {"csrf_token": token, **{f"consent_{name}": "y" for name, given in consents.items() if given}}
    response = client.post("/postfach/einwilligungen", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response


# The clearing officer ------------------------------------------------------------------------------------


def assess(
    client: FlaskClient,
    case_id: str,
    *,
    urgency: str = "normal",
    incident_types: list[str] | None = None,
    motives: list[str] | None = None,
    offences: list[str] | None = None,
    employer_duty: bool = True,
    notes: str = "",
) -> None:
    """Begin the review and save the assessment, which marks the case assessed."""
    base = f"/clearing/fall/{case_id}"
    assert post(client, f"{base}/status", {"target": "in_review"}).status_code == 303
    form: dict[str, Any] = {
        "urgency": urgency,
        "escalation_level": "1",
        "incident_types": incident_types or ["insult_defamation"],
        "motives": motives or ["racism"],
        "offences": offences or ["s185"],
        "notes": notes,
    }
    if employer_duty:
        form["employer_duty"] = "y"
    response = post(client, f"{base}/bewertung", form)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]


def refer(client: FlaskClient, case_id: str, partner_key: str, files: list[str] | None = None) -> TestResponse:
    """Confirm a referral as the preview page's form does; returns the redirect."""
    path = f"/clearing/fall/{case_id}/weiterleiten/{partner_key}"
    return client.post(path, data={"csrf_token": staff_csrf(client), "files": files or []})


def offered_files(client: FlaskClient, case_id: str, partner_key: str) -> dict[str, str]:
    """The files the preview offers for this partner: name -> attachment id."""
    page = client.get(f"/clearing/fall/{case_id}/weiterleiten/{partner_key}").get_data(as_text=True)
    return {name: file_id for file_id, name in FILE_INPUT_RE.findall(page)}


def officer_path(app: Flask, alliance: Alliance, case_id: str, **assessment: Any) -> FlaskClient:
    """The officer logs in and assesses the case; returns the logged-in client."""
    client = logged_in_client(app, alliance.officer)
    assess(client, case_id, **assessment)
    return client


# Reading pages and mails ----------------------------------------------------------------------------------


def references_in(page: str) -> list[str]:
    """Case references in page order."""
    return REFERENCE_RE.findall(page)


def normalised(page: str, ids: list[str]) -> str:
    """A page with the ids echoed from its own URL and the (time-stamped) CSRF tokens blanked."""
    for value in ids:
        page = page.replace(value, "<id>")
    return CSRF_VALUE_RE.sub(r"\1<csrf>\2", page)


def flashes(page: str) -> str:
    """The page's text without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


class _Tables(HTMLParser):
    """The statistics tables of a page: section id -> rows of (header, [cell texts])."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[str, list[str]]]] = {}
        self.headers: dict[str, list[str]] = {}
        self._section: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section" and values.get("aria-labelledby"):
            self._section = str(values["aria-labelledby"])
            self.tables[self._section] = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._section:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._section:
            if self._in_head:
                self.headers[self._section] = self._row[1:]
            else:
                self.tables[self._section].append((self._row[0], self._row[1:]))
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_tables(page: str) -> tuple[dict[str, list[tuple[str, list[str]]]], dict[str, list[str]]]:
    """The statistics tables of a page and their column headers, by section id."""
    parser = _Tables()
    parser.feed(page)
    return parser.tables, parser.headers


def mails_to(server: SmtpServer, address: str) -> list[ReceivedMail]:
    return [m for m in server.mails if address in m.rcpt_tos]


def mail_text(mail: ReceivedMail) -> str:
    """Subject and body as a reader sees them (decoded)."""
    return f"{mail.subject}\n{mail.text}"
