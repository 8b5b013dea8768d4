"""The production layout (nginx -> gunicorn, komma workers, cron) against slow clients, big uploads, log leaks and load.

Issue 10: 50 slow-body connections held all of gunicorn's request threads and /healthz for 25 s,
and an over-limit upload got a reset connection instead of the calm 413 page. Each test speaks
real HTTP to nginx of the layout started once for this module (tests/reliability/layout.py),
with production Argon2 parameters.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

from core.config import Config
from core.security import STATIC_HEADERS
from deploy.prod_local import DEPLOY, app_body_limit
from tests.reliability.layout import (
    Browser,
    RunningLayout,
    all_files,
    complete_submission,
    form_token,
    multipart,
)
from tests.reliability.layout import production_layout as production_layout  # a fixture, re-exported
from tests.web import minimal_report_form

SLOW_CLIENTS = 50
ANSWER_WITHIN = 2.0
TOO_LARGE = "Die Sendung ist zu groß"
UNAVAILABLE = "Der Dienst ist gerade nicht erreichbar"


# Raw connections -----------------------------------------------------------------------------------


def connect(url: str, source: str = "127.0.0.1") -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname
    assert parts.port
    return socket.create_connection((parts.hostname, parts.port), timeout=10, source_address=(source, 0))


def post_head(url: str, path: str, length: int, content_type: str = "application/x-www-form-urlencoded") -> bytes:
    host = urlsplit(url).netloc
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


def read_response(sock: socket.socket) -> tuple[int, str]:
    """Status and body text of one response, read to its Content-Length: after an early answer
    nginx keeps reading (and discarding) the body we announced, so the connection stays open."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b"\r\n\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    while match and len(body) < int(match.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ", 2)[1]), body.decode("utf-8", "replace")


class SlowBodies:
    """Connections that announce a body and send only a little of it: half trickle a byte now and
    then, half stall. Before nginx, each of them held a gunicorn thread."""

    def __init__(self, url: str, path: str, count: int, source: str = "127.0.0.1") -> None:
        self.sockets = [connect(url, source) for _ in range(count)]
        for sock in self.sockets:
            sock.sendall(post_head(url, path, 1_000_000) + b"description=" + b"x" * 16)
        self.stopped = threading.Event()
        self.trickler = threading.Thread(target=self._trickle, daemon=True)
        self.trickler.start()

    def _trickle(self) -> None:
        while not self.stopped.wait(0.5):
            for sock in self.sockets[::2]:
                with suppress(OSError):  # a connection nginx closed shows in still_open()
                    sock.send(b"x")

    def still_open(self) -> int:
        """How many nginx still holds open (it has neither answered nor closed them)."""
        open_count = 0
        for sock in self.sockets:
            try:
                sock.setblocking(False)
                open_count += sock.recv(1, socket.MSG_PEEK) != b""  # b"": closed by nginx
            except BlockingIOError:
                open_count += 1  # nothing to read: open, still waiting for our body
            except OSError:
                pass
            finally:
                sock.setblocking(True)
        return open_count

    def close(self) -> None:
        self.stopped.set()
        self.trickler.join(timeout=5)
        for sock in self.sockets:
            sock.close()


@contextmanager
def slow_bodies(url: str, path: str, count: int, source: str = "127.0.0.1") -> Iterator[SlowBodies]:
    held = SlowBodies(url, path, count, source)
    try:
        yield held
    finally:
        held.close()


def upload_of(token: str, total: int) -> tuple[bytes, dict[str, str]]:
    """The intake form with six evidence files, exactly `total` bytes long (the last file fills up)."""
    fields = {**minimal_report_form(), "csrf_token": token}
    boundary = "komma-layout-test-boundary"
    files = [(f"beweis-{n}.pdf", b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024 - 4096)) for n in range(5)]
    body, _ = multipart(fields, [*files, ("beweis-5.pdf", b"0")], boundary)
    filler = 1 + total - len(body)
    assert filler > 0
    body, headers = multipart(fields, [*files, ("beweis-5.pdf", b"0" * filler)], boundary)
    assert len(body) == total
    return body, headers


# (a) Slow clients ------------------------------------------------------------------------------------


def test_slow_clients_hold_no_request_thread(production_layout: RunningLayout) -> None:
    url, slug = production_layout.url, production_layout.slug
    with slow_bodies(url, f"/melden/{slug}", SLOW_CLIENTS) as slow:
        time.sleep(1)  # every slow connection is in and has sent its head and a first bit of body
        health = Browser(url).get("/healthz")
        submission = complete_submission(Browser(url), slug)
        held = slow.still_open()
    assert health.status == 200, health.text
    assert json.loads(health.text)["status"] in ("ok", "degraded")
    assert health.seconds < ANSWER_WITHIN, f"/healthz took {health.seconds:.2f} s beside {SLOW_CLIENTS} slow clients"
    assert submission.seconds < ANSWER_WITHIN, f"a submission took {submission.seconds:.2f} s beside slow clients"
    # They were really there the whole time: nginx held all of them (no gunicorn thread did).
    assert held == SLOW_CLIENTS


# (b) An upload over the limit ------------------------------------------------------------------------


def test_over_limit_upload_gets_the_calm_413_page_and_one_at_the_limit_reaches_the_app(
    production_layout: RunningLayout,
) -> None:
    layout, path = production_layout.layout, f"/melden/{production_layout.slug}"
    browser = Browser(layout.url)
    token = form_token(browser.get(path))

    # At the app's limit exactly: nginx passes it on and the app judges it (six files: too many).
    body, headers = upload_of(token, layout.body_limit)
    at_limit = browser.request("POST", path, body, headers)
    assert at_limit.status == 422, at_limit.text[:1000]
    assert 'name="csrf_token"' in at_limit.text  # the app's form page with its own message

    # One byte more: nginx answers, with the app's calm page, and the whole body was sent.
    body, headers = upload_of(token, layout.body_limit + 1)
    over = browser.request("POST", path, body, headers)
    assert over.status == 413
    assert TOO_LARGE in over.text
    assert 'lang="de"' in over.text
    for name, value in {**STATIC_HEADERS, "Cache-Control": "no-store"}.items():
        assert over.headers.get(name) == value, name

    # A browser set to English (or ?lang=en) gets the English page; announced, not even sent.
    with connect(layout.url) as sock:
        sock.sendall(post_head(layout.url, f"{path}?lang=en", layout.body_limit + 1, "multipart/form-data"))
        status, text = read_response(sock)
    assert status == 413
    assert 'lang="en"' in text
    assert TOO_LARGE not in text


# (c) No client address, user agent or referrer in any log -------------------------------------------

PROBE_SOURCE = "127.0.0.2"  # loopback, but not the servers' own 127.0.0.1: only a client has it
PROBE_FORWARDED = "198.51.100.23"
PROBE_AGENT = "KommaLogProbe/1.0 (agent-probe-7f3a)"
PROBE_REFERRER = "https://referrer.example/referrer-probe-7f3a"
PROBES = (PROBE_SOURCE, PROBE_FORWARDED, PROBE_AGENT, "agent-probe-7f3a", "referrer-probe-7f3a")


def test_no_client_address_user_agent_or_referrer_in_any_log(production_layout: RunningLayout) -> None:
    layout, slug = production_layout.layout, production_layout.slug
    browser = Browser(
        layout.url,
        source=PROBE_SOURCE,
        headers={
            "User-Agent": PROBE_AGENT,
            "Referer": PROBE_REFERRER,
            "X-Forwarded-For": PROBE_FORWARDED,
            "X-Real-IP": PROBE_FORWARDED,
            "Forwarded": f"for={PROBE_FORWARDED}",
        },
    )
    # What makes servers write about a request: success, 404, a refused form, 413, a malformed
    # request, a client that gives up halfway.
    complete_submission(browser, slug)
    assert browser.get("/gibt-es-nicht").status == 404
    assert browser.post_form(f"/melden/{slug}", {**minimal_report_form(), "csrf_token": "falsch"}).status == 400
    with connect(layout.url, PROBE_SOURCE) as sock:
        sock.sendall(post_head(layout.url, f"/melden/{slug}", layout.body_limit + 1))
        assert read_response(sock)[0] == 413
    with connect(layout.url, PROBE_SOURCE) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        assert read_response(sock)[0] == 400
    with slow_bodies(layout.url, f"/melden/{slug}", 2, PROBE_SOURCE):
        time.sleep(0.3)
    time.sleep(0.5)  # what the processes write about it has reached their logs

    assert layout.log_files(), "the layout wrote no log at all"
    written = [*all_files(layout.workdir), *all_files(Path("/var/log/nginx"))]
    for path in written:
        content = path.read_bytes().decode("utf-8", "replace")
        for probe in PROBES:
            assert probe not in content, f"{probe!r} in {path}"
    assert not any(p.name.startswith("access") for p in written if layout.workdir in p.parents)


# (d) Concurrent submissions with production Argon2 ---------------------------------------------------


def test_eight_concurrent_submissions_with_production_argon2_all_get_their_receipt(
    production_layout: RunningLayout,
) -> None:
    layout, slug = production_layout.layout, production_layout.slug
    assert "KOMMA_ARGON2" not in layout.env  # the production parameters (64 MiB, t=4)
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(complete_submission, Browser(layout.url), slug) for _ in range(8)]
        codes = [future.result(timeout=60).receipt_code for future in futures]
    assert len(set(codes)) == 8
    assert all(len(code) == 16 and code.isdigit() for code in codes)
    assert time.perf_counter() - start < 30


# gunicorn down -------------------------------------------------------------------------------------


def test_gunicorn_down_gets_the_calm_503_page_and_comes_back(production_layout: RunningLayout) -> None:
    layout = production_layout.layout
    layout.web.kill()
    try:
        page = Browser(layout.url).get(f"/melden/{production_layout.slug}")
        assert page.status == 503
        assert UNAVAILABLE in page.text
    finally:
        layout.web.start()
        layout.wait_ready()
    assert Browser(layout.url).get("/healthz").status == 200


# The shipped files agree with the app ------------------------------------------------------------


def test_shipped_nginx_site_limits_bodies_to_what_the_app_takes() -> None:
    site = (DEPLOY / "nginx" / "komma-site.conf").read_text()
    (limit,) = re.findall(r"^\s*client_max_body_size (\d+);", site, re.MULTILINE)
    assert int(limit) == app_body_limit(Config().max_request_bytes)


def test_nginx_error_pages_carry_the_apps_security_headers() -> None:
    server = (DEPLOY / "nginx" / "komma-server.conf").read_text()
    headers = dict(re.findall(r'^\s*add_header ([\w-]+) "([^"]*)" always;', server, re.MULTILINE))
    assert headers == {**STATIC_HEADERS, "Cache-Control": "no-store"}
