"""Measures one complete intake submission against a bare Flask + SQLAlchemy handler, in one run.

A submission is the real POST of the intake form to /melden/<slug> through the app, with CSRF
token, every field filled, multipart encoded as a browser sends it: validation, sanitising, the
throttle, the receipt code, sealing and encrypting, the upload cleaning (the photo is decoded and
encoded anew without its metadata), the commit, the inline outbox job and the 303 to the receipt.
The bare handler is a second, tiny Flask app that parses the same multipart body and stores the
same fields in clear, the file bytes as they came, in one SQLAlchemy transaction, on the same
database. Two payloads: text only, and the same with a ~2 MB phone-sized JPEG with EXIF.

The timed part is the test client's call with a request whose body is already encoded: the
server side only. Getting the form (for the CSRF token), encoding the multipart body and
following the redirect to the receipt page happen outside the clock. The variants (bare, the
app with TEST_ARGON2, the app with PRODUCTION_ARGON2, and the derivation alone, below) run
interleaved so that load from other processes hits all of them alike. "No derivation" is the real app with
TEST_ARGON2 (m=8 KiB, t=1, p=1), whose derivation costs microseconds. Ratios are of medians.

Inside the app's requests, two product functions are wrapped with a stopwatch (behaviour
unchanged): the receipt derivation and the view's check_files, which cleans the photo. Each
request so says how much of its time they took, and the photo case is also reported without
the cleaning, subtracted request by request. For its own target, the derivation at production
parameters is also timed alone, outside any request.

Run from the project root: .venv/bin/python bench/intake_bench.py [--quick] [--database-url URL]
A given database is wiped first (its name must contain "bench"); the default is a temporary SQLite.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import logging
import os
import pstats
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, redirect, request
from flask.testing import FlaskClient
from PIL import ExifTags, Image, ImageChops
from sqlalchemy import DateTime, ForeignKey, LargeBinary, String, Text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

# Run as a script, Python puts bench/ on the path, not the checkout that holds the project.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common
from _common import Timings, ms

import crypto
from core import create_app
from core.db import make_engine
from core.logging_setup import StderrHandler
from core.tenancy import create_municipality
from crypto import derive_receipt_keys
from reporting import flood, views

# The bench posts like a client without JavaScript (no proof of work): the budget for such reports
# (20 an hour) would defer the codes of all but the first few; it is raised for this process
# only, and so is the flood mark's level. The counters' UPDATEs still run on every request.
flood.OPEN_REPORTS_PER_WINDOW = 1_000_000
flood.FLOOD_LEVEL = 1_000_000

SLUG = "benchstadt"
FORM_PATH = f"/melden/{SLUG}"
CSRF_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
WARMUP = 2
TARGET_RATIO = 1.5
TARGET_DERIVATION = 0.250

DESCRIPTION = (
    "Nach der Gemeinderatssitzung am Abend wurde ich auf dem Parkplatz von zwei Männern angesprochen. "
    "Sie sagten, man wisse, wo ich wohne, und ich solle mir gut überlegen, wie ich beim Windpark abstimme. "
    "Einer filmte mich dabei mit dem Handy. Zwei Tage später tauchte das Video in einer lokalen Gruppe auf, "
    "mit meiner Adresse in den Kommentaren und Sätzen wie „der gehört mal Besuch abgestattet“. "
) * 4
FIELDS: dict[str, str | list[str]] = {
    "reporter_role": "affected",
    "affected_role": "council_member",
    "incident_date": "2026-11-02",
    "incident_month": "",
    "incident_time": "19:30",
    "ongoing": "y",
    "known_since": "2026-11-04",
    "channel": "social_media",
    "place": "Parkplatz am Rathaus, danach online",
    "platform": "Facebook-Gruppe „Unser Ort“",
    "urls": "https://example.org/groups/unser-ort/posts/1\nhttps://example.org/watch/2\nhttps://example.org/profile/3",
    "incident_types": ["threat", "doxxing", "insult_defamation"],
    "motives": ["political_engagement", "misogyny"],
    "perpetrator": "citizen",
    "perpetrator_description": "Zwei Männer, etwa 40 bis 50 Jahre alt, einer mit grauer Jacke. Namen unbekannt.",
    "description": DESCRIPTION,
    "evidence_found": "Ich selbst, zwei Tage später abends",
    "done_police": "y",
    "police_reference": "ST/4711/26",
    "done_supervisor": "y",
    "done_counselling": "y",
    "acute_danger": "no",
    "consent_counselling": "y",
    "consent_police": "y",
    "consent_statistics": "y",
    "contact": "email",
    "contact_email": "melderin@example.org",
    "contact_phone": "0170 1234567",
    "website": "",
}
SINGLE_FIELDS = [name for name, value in FIELDS.items() if isinstance(value, str)]


# The bare handler ---------------------------------------------------------------------------


class BareBase(DeclarativeBase):
    pass


class BareReport(BareBase):
    __tablename__ = "bare_report"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    incident_types: Mapped[str] = mapped_column(Text)
    motives: Mapped[str] = mapped_column(Text)
    files: Mapped[list[BareFile]] = relationship()


# One Text column per single-valued form field, in clear.
for _name in SINGLE_FIELDS:
    setattr(BareReport, _name, mapped_column(Text, default=""))


class BareFile(BareBase):
    __tablename__ = "bare_file"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("bare_report.id"))
    name: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(Text)
    data: Mapped[bytes] = mapped_column(LargeBinary)


def create_bare_app(engine: Engine, limits: dict[str, object]) -> Flask:
    app = Flask("bare")
    app.config.update(limits)

    @app.post("/melden/<slug>")
    def bare_report(slug: str) -> Response:
        form = request.form
        report = BareReport(
            id=uuid.uuid4().hex,
            slug=slug,
            received_at=datetime.now(UTC),
            incident_types=",".join(form.getlist("incident_types")),
            motives=",".join(form.getlist("motives")),
            **{name: form.get(name, "") for name in SINGLE_FIELDS},
        )
        for upload in request.files.getlist("files"):
            if upload.filename:
                report.files.append(
                    BareFile(
                        id=uuid.uuid4().hex, name=upload.filename, content_type=upload.mimetype, data=upload.read()
                    )
                )
        with Session(engine) as session, session.begin():
            session.add(report)
        return redirect(f"/melden/{slug}/eingang", code=303)

    return app


# Payloads and requests ----------------------------------------------------------------------


def make_photo(size: tuple[int, int], target_bytes: int) -> tuple[bytes, int]:
    """A phone-sized JPEG of gradients and noise with camera EXIF, its quality chosen to land near target_bytes."""
    width, height = size

    def channel(sigma: float, angle: int) -> Image.Image:
        gradient = Image.linear_gradient("L").rotate(angle).resize(size)
        return ImageChops.add(gradient, Image.effect_noise(size, sigma), offset=-128)

    image = Image.merge("RGB", [channel(20, 0), channel(16, 60), channel(24, 120)])
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Benchphone"
    exif[ExifTags.Base.Model] = "BP-12"
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.Base.DateTime] = "2026:11:02 19:41:07"
    exif[ExifTags.Base.ImageWidth] = width
    exif[ExifTags.Base.ImageLength] = height
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.5),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
    }
    exif_bytes = exif.tobytes()

    def encode(quality: int) -> bytes:
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality, exif=exif_bytes)
        return out.getvalue()

    low, high = 30, 98
    best = (encode(low), low)
    while low <= high:  # size grows with quality: bisect to the largest quality within the target
        quality = (low + high) // 2
        data = encode(quality)
        if len(data) <= target_bytes:
            best, low = (data, quality), quality + 1
        else:
            high = quality - 1
    return best


def post_request(fields: dict[str, str | list[str]], photo: bytes | None) -> Request:
    """The request a browser sends for the form, body already encoded (outside the clock)."""
    data: MultiDict[str, object] = MultiDict()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.add(name, item)
    if photo is None:
        # A file input left empty: browsers still send the part, with an empty file name.
        data.add("files", (io.BytesIO(b""), "", "application/octet-stream"))
    else:
        data.add("files", (io.BytesIO(photo), "IMG_20261102_194107.jpg", "image/jpeg"))
    builder = EnvironBuilder(path=FORM_PATH, method="POST", data=data)
    try:
        return builder.get_request()
    finally:
        builder.close()


class SubmissionRefusedError(Exception):
    """The server did not take the submission; the message says how it answered."""


class ErrorRecords(logging.Handler):
    """Keeps the app's error log lines, which name the cause that its error page hides."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


ERRORS = ErrorRecords()


class Spans:
    """Seconds spent inside wrapped functions during the last timed request."""

    def __init__(self) -> None:
        self.current: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def wrap(self, owner: object, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.current[label] = self.current.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, attribute, timed)


SPANS = Spans()
DERIVATION, CLEANING = "derivation", "photo cleaning"


def instrument() -> None:
    # service looks crypto.derive_receipt_keys up at each call; the view calls its own imported check_files.
    SPANS.wrap(crypto, "derive_receipt_keys", DERIVATION)
    SPANS.wrap(views, "check_files", CLEANING)


def timed_post(client: FlaskClient, prepared: Request, profiler: cProfile.Profile | None = None) -> float:
    SPANS.current = {}
    if profiler is not None:
        profiler.enable()
    start = time.perf_counter()
    response = client.open(prepared, buffered=True)
    seconds = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
    SPANS.last = SPANS.current
    if response.status_code != 303:
        logged = f", logged {ERRORS.messages[-1]!r}" if ERRORS.messages else ""
        raise SubmissionRefusedError(f"{client.application.name} answered {response.status_code}{logged}")
    return seconds


def komma_submission(app: Flask, photo: bytes | None, profiler: cProfile.Profile | None = None) -> float:
    """One reporter: a fresh browser session gets the form, posts it (timed), reads the receipt."""
    client = app.test_client()
    match = CSRF_RE.search(client.get(FORM_PATH).get_data(as_text=True))
    if match is None:
        raise SubmissionRefusedError(f"no CSRF token on {FORM_PATH}")
    prepared = post_request({**FIELDS, "csrf_token": match.group(1)}, photo)
    seconds = timed_post(client, prepared, profiler)
    receipt = client.get(f"{FORM_PATH}/eingang")
    if receipt.status_code != 200:
        raise SubmissionRefusedError(f"the receipt page answered {receipt.status_code}")
    return seconds


def bare_submission(app: Flask, photo: bytes | None) -> float:
    # The same body, csrf_token field included, so both servers parse the same bytes.
    prepared = post_request({**FIELDS, "csrf_token": "x" * 91}, photo)
    return timed_post(app.test_client(), prepared)


@dataclass
class Variant:
    label: str
    run: Callable[[], float]
    timings: Timings = field(init=False)
    spans: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.timings = Timings(self.label)

    def span(self, label: str) -> Timings:
        return Timings(label, self.spans.get(label, []))

    def without(self, label: str) -> Timings:
        """The requests' times less what the wrapped function took in each."""
        return Timings(self.label, [t - s for t, s in zip(self.timings.seconds, self.spans[label], strict=True)])


def run_case(variants: list[Variant], runs: int) -> None:
    """Warm up, then run the variants in rotating order so that drift and load hit each alike."""
    for _ in range(WARMUP):
        for variant in variants:
            variant.run()
    for index in range(runs):
        shift = index % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            variant.timings.seconds.append(variant.run())
            for label in (DERIVATION, CLEANING):
                variant.spans.setdefault(label, []).append(SPANS.last.get(label, 0.0))


def derivation_alone() -> float:
    """One receipt derivation at production parameters, outside any request."""
    SPANS.last = {}
    code, salt = crypto.generate_receipt_code(), os.urandom(32)
    start = time.perf_counter()
    derive_receipt_keys(code, salt=salt, pepper=_common.BENCH_PEPPER, params=crypto.PRODUCTION_ARGON2)
    return time.perf_counter() - start


# The run ------------------------------------------------------------------------------------


def quiet_production_logging() -> None:
    """Log at production's level (INFO), formatted as usual, but to /dev/null instead of the bench's output."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in root.handlers:
        if isinstance(handler, StderrHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    root.addHandler(ERRORS)


def add_municipality(app: Flask) -> None:
    """As `komma municipality add` makes it: office key epoch 1, its key tagged with the app's binding key."""
    with app.extensions["komma"].session_factory() as session, session.begin():
        create_municipality(session, SLUG, "Benchstadt")


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="a database to wipe and use; default: a temporary SQLite file")
    parser.add_argument("--quick", action="store_true", help="fewer runs (8 text, 4 photo)")
    parser.add_argument("--text-runs", type=int, default=30)
    parser.add_argument("--photo-runs", type=int, default=15)
    parser.add_argument("--photo-size", type=parse_size, default=(3264, 2448), help="photo pixels, WxH (8 MP)")
    parser.add_argument("--profile", action="store_true", help="also cProfile the app's POST without derivation")
    args = parser.parse_args()
    if args.quick:
        args.text_runs, args.photo_runs = 8, 4

    instrument()
    photo, quality = make_photo(args.photo_size, 2 * 1000 * 1000)
    with _common.migrated_database(args.database_url) as database, tempfile.TemporaryDirectory() as instance:
        fast = create_app(_common.bench_config(database.url, Path(instance), argon2=crypto.TEST_ARGON2))
        slow = create_app(_common.bench_config(database.url, Path(instance), argon2=crypto.PRODUCTION_ARGON2))
        quiet_production_logging()
        add_municipality(fast)
        # The same engine settings as the app (SQLite: WAL, foreign keys, secure_delete) and the same limits.
        bare_engine = make_engine(database.url)
        BareBase.metadata.drop_all(bare_engine)
        BareBase.metadata.create_all(bare_engine)
        limits = {key: fast.config[key] for key in ("MAX_CONTENT_LENGTH", "MAX_FORM_MEMORY_SIZE", "MAX_FORM_PARTS")}
        bare = create_bare_app(bare_engine, limits)
        print(
            f"Komm.A intake bench on {database.label}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        )
        print(
            f"photo: {args.photo_size[0]}x{args.photo_size[1]} JPEG q={quality}, {len(photo) / 1e6:.2f} MB, "
            "EXIF with camera, date and GPS"
        )
        try:
            passed = measure(args, fast, slow, bare, photo)
        finally:
            for engine in (fast.extensions["komma"].engine, slow.extensions["komma"].engine, bare_engine):
                engine.dispose()
    sys.exit(0 if passed else 1)


def measure(args: argparse.Namespace, fast: Flask, slow: Flask, bare: Flask, photo: bytes) -> bool:
    prod, test = crypto.PRODUCTION_ARGON2, crypto.TEST_ARGON2
    print(
        f'"no derivation" = the real app with TEST_ARGON2 (m={test.memory_kib} KiB, t={test.iterations}, '
        f'p={test.lanes}), microseconds; "production argon2" = m={prod.memory_kib} KiB, t={prod.iterations}, '
        f"p={prod.lanes}"
    )
    print("server-side time of the POST, median / p95; ratio = median / bare median\n")

    measured: dict[str, list[Variant]] = {}
    refused: dict[str, str] = {}
    # Interleaved with the requests, so that it sees the same load; its runs add up over both cases.
    derivation = Variant("receipt derivation alone", derivation_alone)
    for case, payload, runs in (("text-only", None, args.text_runs), ("photo 2 MB", photo, args.photo_runs)):
        variants = [
            Variant("bare", lambda payload=payload: bare_submission(bare, payload)),
            Variant("komma(no derivation)", lambda payload=payload: komma_submission(fast, payload)),
            Variant("komma(production argon2)", lambda payload=payload: komma_submission(slow, payload)),
        ]
        try:
            run_case([*variants, derivation], runs)
        except SubmissionRefusedError as error:
            refused[case] = str(error)
            print(f"{case:<11} not measured: {error}")
            continue
        measured[case] = variants
        base = variants[0].timings
        print(f"{case:<11} {'bare':<25} {ms(base.median)} {ms(base.p95)}   ({runs} runs)")
        for variant in variants[1:]:
            mine = variant.timings
            parts = [
                f"{label} {variant.span(label).median * 1e3:.1f} ms"
                for label in (DERIVATION, CLEANING)
                if variant.span(label).median >= 0.0005
            ]
            print(
                f"{case:<11} {variant.label:<25} {ms(mine.median)} {ms(mine.p95)}   ratio {mine.median / base.median:5.2f}"
                + (f"   of which {', '.join(parts)}" if parts else "")
            )
        fast_variant = variants[1]
        if fast_variant.span(CLEANING).median >= 0.001:
            rest = fast_variant.without(CLEANING)
            print(
                f"{case:<11} {'  ...less photo cleaning':<25} {ms(rest.median)} {ms(rest.p95)}   "
                f"ratio {rest.median / base.median:5.2f}"
            )

    print(
        f"\nreceipt derivation on its own (production argon2) {ms(derivation.timings.median)} "
        f"{ms(derivation.timings.p95)}   ({len(derivation.timings.seconds)} runs, between the requests)"
    )
    print(f"load average now {os.getloadavg()[0]:.2f}\n")

    verdicts = []
    for case in ("text-only", "photo 2 MB"):
        if case in refused:
            verdicts.append(False)
            print(f"FAIL {case}: the submission was refused ({refused[case]})")
            continue
        bare_times, fast_variant = measured[case][0].timings, measured[case][1]
        ratio = fast_variant.timings.median / bare_times.median
        verdicts.append(ratio <= TARGET_RATIO)
        print(
            f"{'PASS' if verdicts[-1] else 'FAIL'} {case}: without derivation {ratio:.2f}x bare (target <= {TARGET_RATIO}x)"
        )
    verdicts.append(derivation.timings.median <= TARGET_DERIVATION)
    print(
        f"{'PASS' if verdicts[-1] else 'FAIL'} derivation: {derivation.timings.median * 1e3:.0f} ms "
        f"(target <= {TARGET_DERIVATION * 1e3:.0f} ms)"
    )
    if args.profile:
        profile(fast, None if "photo 2 MB" in refused else photo)
    return all(verdicts)


def profile(app: Flask, photo: bytes | None) -> None:
    """Where the app's POST spends its time without the derivation: cumulative, then own time."""
    cases = [("text-only", None, 20)] + ([("photo 2 MB", photo, 5)] if photo is not None else [])
    for case, payload, runs in cases:
        profiler = cProfile.Profile()
        for _ in range(runs):
            komma_submission(app, payload, profiler)
        print(f"\n--- cProfile, komma(no derivation), {case}, {runs} POSTs ---")
        stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
