"""The production layout (deploy/prod_local.py) as a fixture, and a reporter's browser speaking real HTTP to it.

`production_layout` starts nginx, gunicorn, two `komma worker` and `komma cron` once per test
module, against the suite's PostgreSQL and a redis-server of the module's own, with production
Argon2 parameters; a municipality that accepts reports is added through `komma municipality
add`. PostgreSQL (KOMMA_TEST_DATABASE_URL), Redis (KOMMA_TEST_REDIS_URL, redis-server) and
Debian's nginx must be there: the tests skip without them, and fail with
KOMMA_TEST_REQUIRE_SERVICES=1. The benches use `Browser` and `complete_submission` too.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from deploy.prod_local import LayoutError, ProductionLayout, find_nginx
from tests.conftest import empty_tables, make_test_config, need_service
from tests.web import CSRF_RE, RECEIPT_RE, challenge_answer, minimal_report_form

SLUG = "layoutstadt"

FormFields = Mapping[str, str | Sequence[str]]


# A reporter's browser --------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    status: int
    headers: Mapping[str, str]
    text: str
    seconds: float


class Browser:
    """One person's browser: its own cookies, a new connection per request, from a chosen loopback
    address (so that a test can tell the client's address from the servers' own)."""

    def __init__(
        self,
        base_url: str,
        *,
        source: str = "127.0.0.1",
        timeout: float = 60,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        assert parts.hostname
        assert parts.port
        self.host, self.port = parts.hostname, parts.port
        self.source = source
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Page:
        connection = http.client.HTTPConnection(
            self.host, self.port, timeout=self.timeout, source_address=(self.source, 0)
        )
        sent = {**self.headers, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        start = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        seconds = time.perf_counter() - start
        for header in response.headers.get_all("Set-Cookie") or []:
            self._keep_cookie(header)
        return Page(response.status, dict(response.headers.items()), data.decode("utf-8", "replace"), seconds)

    def _keep_cookie(self, header: str) -> None:
        # Every cookie goes back, Secure or not: production sets Secure and this is plain HTTP on
        # loopback, where browsers send Secure cookies too.
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0]
        attributes = rest.lower()
        if not value or "max-age=0" in attributes or "expires=thu, 01 jan 1970" in attributes:
            self.cookies.pop(name.strip(), None)
        else:
            self.cookies[name.strip()] = value

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post_form(self, path: str, fields: FormFields, files: Sequence[tuple[str, bytes]] = ()) -> Page:
        """A multipart form post as a browser sends it; an empty file input when there are no files."""
        return self.request("POST", path, *multipart(fields, files))


def multipart(
    fields: FormFields, files: Sequence[tuple[str, bytes]] = (), boundary: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the intake form's post: fields, then the files (input "files")."""
    data: MultiDict[str, object] = MultiDict()
    for name, value in fields.items():
        for item in [value] if isinstance(value, str) else value:
            data.add(name, item)
    # Browsers send an empty file input as a part with an empty file name.
    for name, content in files or [("", b"")]:
        data.add("files", FileStorage(io.BytesIO(content), filename=name, content_type="application/pdf"))
    boundary, body = encode_multipart(data, boundary)
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def form_token(page: Page) -> str:
    match = CSRF_RE.search(page.text)
    assert match, f"no CSRF token on the page (status {page.status}): {page.text[:500]}"
    return match.group(1)


@dataclass(frozen=True)
class Submission:
    receipt_code: str
    seconds: float


def complete_submission(browser: Browser, slug: str, fields: FormFields | None = None) -> Submission:
    """GET the form, POST it, follow the 303 to the receipt page, read the code; asserts each step."""
    start = time.perf_counter()
    path = f"/melden/{slug}"
    form = browser.get(path)
    assert form.status == 200, f"the form answered {form.status}: {form.text[:500]}"
    posted = browser.post_form(
        path, {**(fields or minimal_report_form()), "csrf_token": form_token(form), **challenge_answer(form.text)}
    )
    assert posted.status == 303, f"the post answered {posted.status}: {posted.text[:2000]}"
    receipt = browser.get(posted.headers["Location"])
    assert receipt.status == 200, f"the receipt page answered {receipt.status}"
    match = RECEIPT_RE.search(receipt.text)
    assert match, "no receipt code on the receipt page"
    return Submission(match.group(1).replace(" ", ""), time.perf_counter() - start)


# The fixture --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunningLayout:
    layout: ProductionLayout
    slug: str

    @property
    def url(self) -> str:
        return self.layout.url


def _redis_answers(url: str) -> str:
    """ "" when Redis answers at url, else why not."""
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except RedisError as exc:
        return f"{url} does not answer ({type(exc).__name__})"
    finally:
        client.close()
    return ""


def require_services(database_url: str) -> None:
    """Skip (or fail, with KOMMA_TEST_REQUIRE_SERVICES=1) unless PostgreSQL, Redis and nginx are there."""
    if not database_url.startswith("postgresql"):
        need_service("PostgreSQL", "KOMMA_TEST_DATABASE_URL does not name a PostgreSQL database")
    redis_url = os.environ.get("KOMMA_TEST_REDIS_URL")
    if not redis_url:
        need_service("Redis", "KOMMA_TEST_REDIS_URL is not set")
    assert redis_url is not None
    if problem := _redis_answers(redis_url):
        need_service("Redis", problem)
    require_layout_tools()


def require_layout_tools() -> None:
    """What the layout runs besides the app: a redis-server of the test's own and Debian's nginx."""
    if shutil.which("redis-server") is None:
        need_service("redis-server", "the redis-server binary is not installed")
    if find_nginx() is None:
        need_service("nginx", "Debian's nginx is not installed (make prod-deps)")


@pytest.fixture(scope="module")
def production_layout(migrated_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLayout]:
    """The whole layout with production parameters, once per module; stopped and the tables emptied after."""
    require_services(migrated_database)
    from core import create_app
    from tests.reliability.redis_server import RedisServer

    workdir = tmp_path_factory.mktemp("layout")
    # A redis-server of the module's own: the layout's queue and worker registrations live in it
    # alone, out of reach of other test runs on the machine's Redis.
    (workdir / "redis").mkdir()
    redis = RedisServer(workdir / "redis")
    redis.start()
    layout = ProductionLayout(workdir / "layout", migrated_database, redis.url, workers=2)
    try:
        try:
            # Through the operator's command, with the layout's own secrets.
            added = json.loads(layout.komma("municipality", "add", SLUG, "Layoutstadt", "--json"))
            assert added, "komma municipality add printed nothing"
            layout.start()
            layout.wait_ready(timeout=60)
        except LayoutError as error:
            pytest.fail(str(error))
        yield RunningLayout(layout, SLUG)
    finally:
        layout.stop()
        redis.stop()
        app = create_app(make_test_config(migrated_database, workdir / "cleanup"))
        empty_tables(app)
        app.extensions["komma"].engine.dispose()


def log_text(layout: ProductionLayout) -> str:
    return "\n".join(path.read_text(errors="replace") for path in layout.log_files())


def all_files(folder: Path) -> Iterator[Path]:
    """Every regular file below folder (logs, configuration, pages, temp files left behind)."""
    return (path for path in folder.rglob("*") if path.is_file())
