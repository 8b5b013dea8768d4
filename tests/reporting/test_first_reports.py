"""The first reports of a new installation, arriving at once: each one is stored with its receipt.

The installation row (the receipt salt) is made by `komma db upgrade`; where it is missing,
several first submissions race to create it, and none may fail on its primary key.
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.models import Installation
from reporting.models import Case
from tests.factories import add_town
from tests.web import csrf_token, full_report

CONCURRENT = 8


# Eight threads at once: each request needs a connection of its own, seeing the others' commits.
@pytest.mark.committing
def test_concurrent_first_submissions_all_get_their_receipt(app: Flask, session: Session) -> None:
    town = add_town(session)
    session.execute(delete(Installation))
    session.commit()
    path = f"/melden/{town.slug}"
    clients = [app.test_client() for _ in range(CONCURRENT)]
    forms = [{**full_report(), "csrf_token": csrf_token(client, path)} for client in clients]
    start = threading.Barrier(CONCURRENT)
    statuses: list[int] = []

    def submit(index: int) -> None:
        start.wait()
        response = clients[index].post(path, data=forms[index], content_type="multipart/form-data")
        statuses.append(response.status_code)

    threads = [threading.Thread(target=submit, args=(i,), daemon=True) for i in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert statuses == [303] * CONCURRENT
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Installation)) == 1
    assert session.scalar(select(func.count()).select_from(Case)) == CONCURRENT
    for client in clients:
        assert 'data-testid="receipt-code"' in client.get(f"{path}/eingang").get_data(as_text=True)
