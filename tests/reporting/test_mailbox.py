"""The reporter's mailbox and receipt page: edge cases around codes, sessions and refused input."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import crypto
from core.db import utcnow
from core.models import SecretSession, receipt_salt
from reporting.case_crypto import unwrap_for_reporter, wrap_for_reporter
from reporting.models import Case, CaseEvent, CaseMessage, ReporterAccess
from reporting.receipt import RECEIPT_LIFETIME, open_receipt, seal_receipt
from tests.factories import add_town, office_view
from tests.leaks import search_database, search_session_cookie
from tests.reporting import files
from tests.web import (
    MAILBOX,
    MAILBOX_LOGIN,
    csrf_token,
    full_report,
    mailbox_login,
    open_mailbox,
    post_mailbox,
    post_report,
    read_receipt,
    submit,
)
from workers.models import OutboxEntry


def sessions_of(session: Session, purpose: str) -> list[SecretSession]:
    session.expire_all()
    return list(session.scalars(select(SecretSession).where(SecretSession.purpose == purpose)))


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_mailbox_needs_the_code(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    submit(client, town)
    response = client.get(MAILBOX)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(MAILBOX_LOGIN)
    assert "Bitte geben Sie Ihren Zugangscode erneut ein" in client.get(MAILBOX_LOGIN).get_data(as_text=True)
    for action, data in (
        ("nachricht", {"body": "Hallo"}),
        ("einwilligungen", {"consent_police": "y"}),
        ("loeschen", {"confirm": "y"}),
    ):
        refused = post_mailbox(client, action, data, token_from=MAILBOX_LOGIN)
        assert refused.status_code == 303, action
        assert refused.headers["Location"].endswith(MAILBOX_LOGIN)
    case = session.scalars(select(Case)).one()
    assert case.deletion_requested_at is None
    # The refused consent form would have withdrawn counselling.
    assert case.consent_counselling
    assert not case.consent_statistics
    assert count(session, CaseMessage) == 0


@pytest.mark.parametrize("style", ["spaces", "dashes", "plain", "padded"])
def test_the_code_may_be_typed_with_or_without_separators(client: FlaskClient, session: Session, style: str) -> None:
    town = add_town(session)
    code = submit(client, town)
    digits = code.replace(" ", "")
    typed = {"spaces": code, "dashes": code.replace(" ", "-"), "plain": digits, "padded": f"  {digits}  "}[style]
    assert "Eingegangen" in open_mailbox(client, typed)


def test_opening_another_mailbox_ends_the_first(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    first = submit(client, town, full_report(description="Erste Meldung"))
    open_mailbox(client, first)
    assert post_mailbox(client, "nachricht", {"body": "Nur in der ersten Meldung"}).status_code == 303
    second = submit(client, town, full_report(description="Zweite Meldung"))
    page = open_mailbox(client, second)
    assert "Nur in der ersten Meldung" not in page
    assert len(sessions_of(session, "mailbox")) == 1
    page = open_mailbox(client, first)
    assert "Nur in der ersten Meldung" in page
    assert len(sessions_of(session, "mailbox")) == 1


def test_each_request_extends_the_idle_time(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    open_mailbox(client, submit(client, town))
    session.execute(update(SecretSession).values(expires_at=utcnow() + timedelta(minutes=1)))
    session.commit()
    assert client.get(MAILBOX).status_code == 200
    (row,) = sessions_of(session, "mailbox")
    assert row.expires_at - utcnow() > timedelta(minutes=14)


def test_mailbox_pages_are_not_cached_and_remind_of_shared_devices(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    code = submit(client, town)
    for response in (client.get(MAILBOX_LOGIN), mailbox_login(client, code), client.get(MAILBOX)):
        assert "no-store" in response.headers["Cache-Control"]
    page = client.get(MAILBOX).get_data(as_text=True)
    assert "15 Minuten" in page
    assert "geteilten Geräten" in page
    assert "Postfach verlassen" in page


def test_a_reply_needs_text_and_acceptable_files(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    open_mailbox(client, submit(client, town))
    empty = post_mailbox(client, "nachricht", {"body": "  \n "})
    assert empty.status_code == 422
    assert "Bitte schreiben Sie eine Nachricht." in empty.get_data(as_text=True)
    bad_file = post_mailbox(client, "nachricht", {"body": "Mit Datei"}, [("notiz.png", b"kein Bild")])
    assert bad_file.status_code == 422
    text = bad_file.get_data(as_text=True)
    assert "Die Datei „notiz.png“ ist kein Bild" in text
    # In the one error summary, linked to the file input, and next to the input itself.
    assert '<li><a href="#files">Weitere Dateien (Bilder oder PDF): Die Datei „notiz.png“ ist kein Bild' in text
    assert 'id="files-error"' in text
    photo = files.encode(files.pattern(), "PNG")
    too_many = post_mailbox(client, "nachricht", {"body": "Viele"}, [(f"f{i}.png", photo) for i in range(6)])
    assert too_many.status_code == 422
    assert "höchstens 5 Dateien" in too_many.get_data(as_text=True)
    assert office_view(session, town).messages == []
    assert count(session, OutboxEntry) == 1  # only the new report's notification


def test_unchanged_consents_change_nothing(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    open_mailbox(client, submit(client, town))
    events, jobs = count(session, CaseEvent), count(session, OutboxEntry)
    same = post_mailbox(client, "einwilligungen", {"consent_counselling": "y", "consent_police": "y"})
    assert same.status_code == 303
    assert "Es wurde nichts geändert." in client.get(MAILBOX).get_data(as_text=True)
    assert (count(session, CaseEvent), count(session, OutboxEntry)) == (events, jobs)


def test_asking_twice_for_deletion_records_it_once(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    open_mailbox(client, submit(client, town))
    first = post_mailbox(client, "loeschen", {"confirm": "y"})
    assert first.status_code == 303
    session.expire_all()
    when = session.scalars(select(Case)).one().deletion_requested_at
    assert when is not None
    # The form is gone from the page now; a second post (an old tab) changes nothing.
    assert 'action="/postfach/loeschen"' not in client.get(MAILBOX).get_data(as_text=True)
    assert post_mailbox(client, "loeschen", {"confirm": "y"}).status_code == 303
    session.expire_all()
    assert session.scalars(select(Case)).one().deletion_requested_at == when
    kinds = session.scalars(select(CaseEvent.kind)).all()
    assert kinds.count("deletion_requested") == 1
    jobs = session.scalars(select(OutboxEntry.job)).all()
    assert jobs.count("notify_case_activity") == 1


def test_an_unseen_receipt_expires(app: Flask, client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    assert post_report(client, town).status_code == 303
    # Nothing of the receipt is kept server-side: it lives sealed in the cookie alone.
    assert sessions_of(session, "receipt") == []
    secret = app.extensions["komma"].config.secret_key
    with client.session_transaction() as cookie:
        held = cookie["receipt"]
        pending = open_receipt(secret, held["municipality"], held["sealed"])
        assert pending is not None
        aged = dataclasses.replace(pending, issued_at=utcnow() - RECEIPT_LIFETIME - timedelta(seconds=1))
        held["sealed"] = seal_receipt(secret, held["municipality"], aged)
        cookie["receipt"] = held
    page = client.get(f"/melden/{town.slug}/eingang").get_data(as_text=True)
    assert "Hier wird kein Zugangscode angezeigt" in page
    assert 'data-testid="receipt-code"' not in page


def test_the_receipt_is_shown_until_the_reporter_confirms_and_then_never_again(
    client: FlaskClient, session: Session
) -> None:
    town = add_town(session)
    assert post_report(client, town).status_code == 303
    first, _page = read_receipt(client, town)
    # A reload (or the way back from the language switch) shows the same code again.
    again, _reloaded = read_receipt(client, town)
    assert again == first
    noted = client.post(
        f"/melden/{town.slug}/eingang", data={"csrf_token": csrf_token(client, f"/melden/{town.slug}/eingang")}
    )
    assert noted.status_code == 303
    assert noted.headers["Location"].endswith("/postfach")
    gone = client.get(f"/melden/{town.slug}/eingang").get_data(as_text=True)
    assert 'data-testid="receipt-code"' not in gone
    assert first.replace(" ", "") not in gone.replace(" ", "")


def test_the_receipt_is_not_shown_under_another_municipality(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    other = add_town(session, "beispielheim", "Beispielheim")
    assert post_report(client, town).status_code == 303
    page = client.get(f"/melden/{other.slug}/eingang").get_data(as_text=True)
    assert "Hier wird kein Zugangscode angezeigt" in page
    assert 'data-testid="receipt-code"' not in page
    # Asked for under another address, it is dropped: the code is never shown there or after.
    assert 'data-testid="receipt-code"' not in client.get(f"/melden/{town.slug}/eingang").get_data(as_text=True)


def test_the_receipt_code_is_stored_nowhere(app: Flask, client: FlaskClient, session: Session) -> None:
    """The code is the reporter's key: neither it nor its digits may be found server-side or in the cookie."""
    town = add_town(session)
    code = submit(client, town)
    open_mailbox(client, code)
    needles = {
        "code": code.encode(),
        "digits": code.replace(" ", "").encode(),
        "dashes": code.replace(" ", "-").encode(),
    }
    session.close()
    assert search_database(app, needles) == []
    assert search_session_cookie(app, client, needles) == []


def test_a_shredded_case_closes_the_mailbox(client: FlaskClient, session: Session) -> None:
    from clearing.cases.maintenance import shred_case

    town = add_town(session)
    code = submit(client, town)
    open_mailbox(client, code)
    shred_case(session, session.scalars(select(Case)).one())
    session.commit()
    response = client.get(MAILBOX)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(MAILBOX_LOGIN)
    again = mailbox_login(client, code)
    assert again.status_code == 200
    assert "Dieser Zugangscode wurde nicht gefunden" in again.get_data(as_text=True)


def test_leaving_without_a_token_is_refused(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    open_mailbox(client, submit(client, town))
    refused = client.post("/postfach/verlassen")
    assert refused.status_code == 400
    assert len(sessions_of(session, "mailbox")) == 1
    left = client.post("/postfach/verlassen", data={"csrf_token": csrf_token(client, MAILBOX)})
    assert left.status_code == 303
    assert sessions_of(session, "mailbox") == []


def test_a_code_issued_under_older_argon2_parameters_opens_and_is_renewed(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Codes derived before 0007 (four lanes) keep opening; at their next use the access is
    re-derived under today's parameters, so from then on one derivation finds it."""
    config = app.extensions["komma"].config
    older = crypto.Argon2Params(memory_kib=16, iterations=1, lanes=2)
    town = add_town(session)
    code = submit(client, town)
    access = session.scalars(select(ReporterAccess)).one()
    case_id = access.case_id
    salt = receipt_salt(session)
    today = crypto.derive_receipt_keys(code, salt=salt, pepper=config.receipt_pepper, params=config.argon2)
    case_key = unwrap_for_reporter(today.reporter_key, access.wrapped_case_key, case_id)
    # Put the access back as an installation before 0007 made it.
    then = crypto.derive_receipt_keys(code, salt=salt, pepper=config.receipt_pepper, params=older)
    session.delete(access)
    session.flush()
    session.add(
        ReporterAccess(
            lookup_id=then.lookup_id,
            case_id=case_id,
            wrapped_case_key=wrap_for_reporter(then.reporter_key, case_key, case_id),
            kdf_params=older.encode(),
        )
    )
    session.commit()

    derivations: list[crypto.Argon2Params] = []
    original = crypto.derive_receipt_keys

    def counted(*args: object, **kwargs: object) -> crypto.ReceiptKeys:
        derivations.append(kwargs["params"])  # type: ignore[arg-type]
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(crypto, "derive_receipt_keys", counted)
    assert mailbox_login(client, code).status_code == 303
    assert derivations == [config.argon2, older]
    session.expire_all()
    renewed = session.scalars(select(ReporterAccess)).one()
    assert renewed.kdf_params == config.argon2.encode()
    assert renewed.lookup_id == today.lookup_id

    derivations.clear()
    other = app.test_client()
    assert mailbox_login(other, code).status_code == 303
    assert derivations == [config.argon2]
    # A wrong code is still refused, whatever parameters are tried.
    assert "nicht gefunden" in mailbox_login(app.test_client(), "1234 5678 9012 3456").get_data(as_text=True)
