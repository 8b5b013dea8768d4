"""Jobs for the kill tests: they mail through mail_once and block until the test releases them.

Each run leaves lines in a marker file named after its token (tests.workers.sample_jobs):
"started:<pid of the work horse>", then "mailed" once mail_once returned. The test kills the
process while the job blocks, then creates "<token>.release" so the next run goes through.
"""

from __future__ import annotations

import os
import time

from sqlalchemy.orm import Session

from core.notify import mail_once, site_url
from tests.workers.sample_jobs import marker
from workers import job
from workers.jobs import JobContext

SUBJECT = "Komm.A Meldestelle: Test"
BODY = "Guten Tag,\n\nes wartet etwas auf Sie.\nBitte melden Sie sich an: {url}/anmelden"
RELEASE_TIMEOUT = 60


def address(token: str) -> str:
    return f"{token}@empfang.example"


def _note(token: str, what: str) -> None:
    with marker(token).open("a") as file:
        file.write(what + "\n")


def released(token: str) -> bool:
    return marker(f"{token}.release").exists()


def release(token: str) -> None:
    marker(f"{token}.release").touch()


def _wait_for_release(token: str) -> None:
    deadline = time.monotonic() + RELEASE_TIMEOUT
    while not released(token):
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.05)


@job("test.mail_then_block")
def mail_then_block(session: Session, context: JobContext, token: str) -> None:
    _note(token, f"started:{os.getpid()}")
    mail_once(context, [address(token)], SUBJECT, BODY.format(url=site_url(context.config)))
    _note(token, "mailed")
    _wait_for_release(token)


@job("test.block_then_mail")
def block_then_mail(session: Session, context: JobContext, token: str) -> None:
    _note(token, f"started:{os.getpid()}")
    _wait_for_release(token)
    mail_once(context, [address(token)], SUBJECT, BODY.format(url=site_url(context.config)))
    _note(token, "mailed")
