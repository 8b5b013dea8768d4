"""Accept an evidence file only as a freshly encoded copy with no metadata, or refuse it with a stable reason.

An image is decoded, rebuilt from its pixels alone and encoded anew. What that may cost is bounded before a
single pixel is decoded, on the numbers in the file's header:

- Pixels, per format. JPEG up to 52 MP: 50 MP phone cameras write 8160 × 6120 to 8192 × 6144 (50.3 MP), and
  64, 108 and 200 MP sensors bin to 12–50 MP unless the sender picks the full-resolution mode, whose files
  are larger than the default 10 MiB upload limit anyway. PNG up to 40 MP: a screenshot of an 8K monitor is
  33 MP, a phone's scrolling capture 1440 × 27,000. GIF up to 16 MP, far beyond any real GIF. WebP up to
  24 MP, a 6000 × 4000 camera photo converted to WebP: all the memory budget allows, as libwebp and Pillow
  hold 17 bytes per pixel decoding it. A caller may set a lower limit.
- Memory, per rebuild: MAX_REBUILD_BYTES, two RGB copies of the largest JPEG (Pillow keeps RGB in 4 bytes a
  pixel): the decoded picture and, for the instant a turn or a mode change builds it, its successor. The
  estimate counts the largest step of the rebuild as measured (tests/reporting/test_image_budget.py):
  decoding (libjpeg's coefficient buffer besides the picture for progressive and other multi-scan JPEGs,
  libwebp's canvases), a possible turn (the EXIF orientation of PNG and WebP may sit behind the pixels, so one
  is always counted), a mode change, and encoding (the GIF encoder's palette search, libwebp). An image
  whose layout would need more is refused as too large, with the pixel count that layout allows. Apart from
  that one moment, one full copy of the pixels exists at a time: each step drops its source at once.
- Work: a JPEG with more than MAX_JPEG_SCANS scans is refused as damaged. libjpeg passes over the whole
  coefficient buffer once per scan, so 10 MiB of tiny scans would keep a slot busy for minutes (measured:
  39 s for 1.8 MB); encoders write 6 to about 20.
- Concurrency: at most MAX_CONCURRENT_REBUILDS rebuilds at once per process (see RebuildGate); a further one
  waits up to REBUILD_WAIT_SECONDS and is then refused as 'busy'. A process's images thus hold at most
  MAX_CONCURRENT_REBUILDS × MAX_REBUILD_BYTES (832 MB) at once, the host's that times gunicorn's
  2 × cores + 1 processes.
"""

from __future__ import annotations

import functools
import io
import os
import re
import threading
import traceback
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, JpegImagePlugin

REFUSAL_REASONS = frozenset({"too_large", "unsupported_type", "bomb", "damaged", "empty", "busy"})

# How far into a file a PDF reader looks for its header; real PDFs sometimes carry a short prefix.
PDF_HEADER_WINDOW = 1024

# The name a file gets when nothing usable is left of the name it came with.
FALLBACK_STEM = "Datei"
MAX_STEM_LENGTH = 80

# The limits the module docstring explains.
JPEG_MAX_PIXELS = 52_000_000
PNG_MAX_PIXELS = 40_000_000
GIF_MAX_PIXELS = 16_000_000
WEBP_MAX_PIXELS = 24_000_000
MAX_REBUILD_BYTES = 2 * 4 * JPEG_MAX_PIXELS
MAX_JPEG_SCANS = 100
MAX_CONCURRENT_REBUILDS = 2
REBUILD_WAIT_SECONDS = 20.0


# The name is part of the agreed API, so it keeps no Error suffix.
class UploadRefused(ValueError):
    """A file that cannot be accepted; .reason is a stable code from REFUSAL_REASONS.

    'too_large' | 'unsupported_type' | 'bomb' | 'damaged' | 'empty' | 'busy' (every rebuild slot stayed taken).
    A 'bomb' carries .limit_pixels, the most pixels an image of its format and layout may have.
    """

    reason: str
    limit_pixels: int | None

    def __init__(self, reason: str, *, limit_pixels: int | None = None) -> None:
        if reason not in REFUSAL_REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(reason)
        self.reason = reason
        self.limit_pixels = limit_pixels


@dataclass(frozen=True)
class CleanFile:
    """The bytes to store for an accepted upload and what they are."""

    data: bytes
    media_type: str
    extension: str
    # True for kinds whose metadata cannot be removed (PDF): the UI warns that it can identify the sender.
    metadata_warning: bool


@dataclass(frozen=True)
class _ImageKind:
    pillow_format: str
    media_type: str
    extension: str
    # Modes the encoder writes as they are; anything else is converted to RGB, or RGBA when it has alpha.
    kept_modes: frozenset[str]
    encoder_options: dict[str, object]
    max_pixels: int


_JPEG = _ImageKind("JPEG", "image/jpeg", ".jpg", frozenset({"L", "RGB"}), {"quality": 90}, JPEG_MAX_PIXELS)
_PNG = _ImageKind("PNG", "image/png", ".png", frozenset({"L", "RGB", "RGBA"}), {"optimize": True}, PNG_MAX_PIXELS)
_WEBP = _ImageKind("WEBP", "image/webp", ".webp", frozenset({"RGB", "RGBA"}), {"quality": 90}, WEBP_MAX_PIXELS)
# GIF is encoded from RGB(A) so Pillow builds a fresh palette and picks the transparent index itself.
_GIF = _ImageKind("GIF", "image/gif", ".gif", frozenset({"RGB", "RGBA"}), {}, GIF_MAX_PIXELS)


class RebuildGate:
    """How many image rebuilds run at once, and how long a further one waits for a slot.

    Each rebuild holds up to MAX_REBUILD_BYTES, so the slots bound a process's image memory; more at once
    would also only add latency, as decoding and encoding keep a core busy. `running` and `most_running`
    (the highest number at once since the gate was made) are the instrument tests and benches read.
    """

    def __init__(self, slots: int = MAX_CONCURRENT_REBUILDS, wait_seconds: float = REBUILD_WAIT_SECONDS) -> None:
        self.wait_seconds = wait_seconds
        self.running = 0
        self.most_running = 0
        self._free = threading.BoundedSemaphore(slots)
        self._count = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        """One slot for the duration; UploadRefused('busy') if none frees up within wait_seconds."""
        if not self._free.acquire(timeout=self.wait_seconds):
            raise UploadRefused("busy")
        try:
            with self._count:
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            yield
        finally:
            with self._count:
                self.running -= 1
            self._free.release()


# Two lanes per process: requests that paid with a solved challenge (reporting.challenge) or come
# from an opened mailbox, and the rest. A flood of images without a challenge fills only its own.
_gate = RebuildGate()
_paid_gate = RebuildGate()


def rebuild_gate(*, paid: bool) -> RebuildGate:
    """The gate a request's images are rebuilt under: `paid`, with a solved challenge or a mailbox."""
    return _paid_gate if paid else _gate


def _renew_gate() -> None:
    # A forked child must not inherit slots held by threads that do not exist there.
    global _gate, _paid_gate
    _gate = RebuildGate()
    _paid_gate = RebuildGate()


os.register_at_fork(after_in_child=_renew_gate)


def clean_upload(
    data: bytes, *, max_bytes: int, max_pixels: int | None = None, gate: RebuildGate | None = None
) -> CleanFile:
    """Check an uploaded file and return what may be stored, or raise UploadRefused.

    Images above their format's pixel limit, above max_pixels if given and lower, or above what
    MAX_REBUILD_BYTES allows for their layout are bombs. Images are rebuilt under `gate`, by default the
    process's own.
    """
    if not data:
        raise UploadRefused("empty")
    if len(data) > max_bytes:
        raise UploadRefused("too_large")
    kind = _detect_image_kind(data)
    if kind is not None:
        limit = kind.max_pixels if max_pixels is None else min(kind.max_pixels, max_pixels)
        with (gate or _gate).held():
            encoded = _reencode_image(data, kind, limit)
        return CleanFile(encoded, kind.media_type, kind.extension, False)
    if b"%PDF-" in data[:PDF_HEADER_WINDOW]:
        # A PDF cannot be rebuilt here without losing the evidence, so it is kept and the reporter is warned.
        return CleanFile(data, "application/pdf", ".pdf", True)
    raise UploadRefused("unsupported_type")


def _detect_image_kind(data: bytes) -> _ImageKind | None:
    """The image kind named by the magic bytes; never the file name or the browser's content type."""
    if data.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return _GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    return None


def _reencode_image(data: bytes, kind: _ImageKind, limit: int) -> bytes:
    """Decode the first frame, rebuild it from its pixels alone and encode it anew."""
    out = io.BytesIO()
    try:
        picture = _rebuild(data, kind, limit)
        try:
            picture.save(out, format=kind.pillow_format, **kind.encoder_options)
        finally:
            # Freed before the slot is: the gate's count is a count of pixel buffers.
            picture.close()
    except UploadRefused:
        raise
    # Pillow signals damage with OSError, SyntaxError, ValueError, struct.error, EOFError and more:
    # a reporter's file must never turn into a server error, so every failure becomes a refusal.
    except Exception as exc:
        # Kept as the cause for the log, but its frames would keep decoded pixels alive past the slot.
        traceback.clear_frames(exc.__traceback__)
        raise UploadRefused("damaged") from exc
    return out.getvalue()


def _rebuild(data: bytes, kind: _ImageKind, limit: int) -> Image.Image:
    """The first frame as a plain image with upright pixels in a mode the encoder keeps, and an empty .info."""
    scans = _jpeg_scans(data) if kind is _JPEG else 1
    if scans > MAX_JPEG_SCANS:
        raise UploadRefused("damaged")
    picture, orientation = _decode_first_frame(data, kind, limit, multi_scan=scans > 1)
    # The pixels themselves are the only full copy here: each step drops its source as soon as it has built
    # the next. A mode that makes the pixels smaller goes first, so the turn works on fewer bytes.
    target = _target_mode(picture, kind)
    if _bytes_per_pixel(target) < _bytes_per_pixel(picture.mode):
        picture = _turn(_convert(picture, target), orientation)
    else:
        picture = _convert(_turn(picture, orientation), target)
    # Every step copied .info (EXIF, XMP, ICC, comments, text chunks), and some encoders write what they find
    # there: the picture reaches the encoder with nothing but its pixels.
    picture.info = {}
    return picture


def _decode_first_frame(data: bytes, kind: _ImageKind, limit: int, *, multi_scan: bool) -> tuple[Image.Image, int]:
    """The decoded pixels in a plain image sharing them, and the EXIF orientation; limits checked first."""
    # Image.open reads only the header. Pillow warns about (and above twice its limit refuses) huge
    # images there, before our own check can run, so its warning is turned into an error here.
    # catch_warnings is not thread-safe before Python 3.14; should its restore race with another
    # thread, the only filter that can linger is this one, which refuses bombs everywhere: harmless.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[kind.pillow_format])
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise UploadRefused("bomb", limit_pixels=limit) from exc
    with image:
        width, height = image.size
        if width == 0 or height == 0:
            raise UploadRefused("damaged")
        # Checked on the header's numbers, so a bomb is refused before a single pixel is allocated.
        per_pixel = _peak_bytes_per_pixel(image, kind, multi_scan=multi_scan)
        allowed = min(limit, int(MAX_REBUILD_BYTES // per_pixel))
        if width * height > allowed:
            raise UploadRefused("bomb", limit_pixels=allowed)
        # Animated GIF and WebP: only the first frame is loaded and kept. Rebuilding every frame with its
        # timing and disposal would add code for little evidential value, and what is not kept cannot leak.
        image.load()
        orientation = _orientation(image)
        # A plain Image around the same pixels, not a copy: the file object, with its metadata and
        # decoder state (libwebp's canvases among them), goes when this function returns.
        picture = image._new(image.im)
    return picture, orientation


def _jpeg_scans(data: bytes) -> int:
    """How many scans (SOS segments) the JPEG's segments hold, counting stops past MAX_JPEG_SCANS."""
    scans, at = 0, 2
    while at + 4 <= len(data) and scans <= MAX_JPEG_SCANS:
        if data[at] != 0xFF:
            break  # not a segment boundary: damaged, which the decoder reports
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == 0xD9:  # end of image
            break
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if marker == 0xDA:
            scans += 1
            # Entropy-coded data runs to the next marker: 0xFF00 is an escaped byte, 0xFFD0-D7 restarts.
            found = _NEXT_MARKER.search(data, at)
            at = found.start() if found else len(data)
    return scans


_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _bytes_per_pixel(mode: str) -> int:
    """What Pillow allocates per pixel: multi-band 8-bit modes take four bytes, RGB included."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


# Where the codecs hold more than the picture: peaks per pixel, measured in tests/reporting/test_image_budget.py.
# libwebp decodes into a canvas and keeps the previous one; Pillow copies the frame out of it, then into the
# image. libwebp encodes from its own ARGB copy of the picture, through YUV planes. Pillow's GIF encoder
# builds a palette from a copy of the RGB(A) pixels and a palette index per pixel, then the new image.
_WEBP_DECODE_BYTES_PER_PIXEL = 17
_WEBP_ENCODE_BYTES_PER_PIXEL = 11
_GIF_ENCODE_BYTES_PER_PIXEL = 13


def _peak_bytes_per_pixel(image: Image.Image, kind: _ImageKind, *, multi_scan: bool) -> float:
    """The most one rebuild of this undecoded image holds at once, per pixel: its largest step."""
    source, target = image.mode, _target_mode(image, kind)
    held, made = _bytes_per_pixel(source), _bytes_per_pixel(target)
    decode: float = held
    if kind is _JPEG and multi_scan:
        decode += _jpeg_coefficient_bytes_per_pixel(image)
    elif kind is _WEBP:
        decode = _WEBP_DECODE_BYTES_PER_PIXEL
    change = 0 if source == target else held + made
    if source.startswith("I"):
        change = max(held + 4, 4 + made)  # by way of 32-bit "I", see _convert
    turn = 2 * min(held, made)
    encode = made
    if kind is _GIF:
        encode = _GIF_ENCODE_BYTES_PER_PIXEL
    elif kind is _WEBP:
        encode = _WEBP_ENCODE_BYTES_PER_PIXEL
    return max(decode, change, turn, encode)


def _jpeg_coefficient_bytes_per_pixel(image: Image.Image) -> float:
    """libjpeg's buffer of every DCT coefficient, two bytes each, which a multi-scan JPEG needs whole."""
    if not isinstance(image, JpegImagePlugin.JpegImageFile) or not image.layer:
        return 2.0 * 4  # four full-size components: the most a JPEG can have
    sampling = [(max(1, h), max(1, v)) for _, h, v, _ in image.layer]
    full = max(h for h, _ in sampling) * max(v for _, v in sampling)
    return 2.0 * sum(h * v for h, v in sampling) / full


def _target_mode(image: Image.Image, kind: _ImageKind) -> str:
    if image.mode.startswith("I"):
        # 16-bit grey (PNG) becomes 8-bit grey; a transparent key colour would not survive the scaling.
        return "L" if "L" in kind.kept_modes else "RGB"
    # Checked first: an RGB or L picture may still carry a transparent colour (PNG tRNS) to keep.
    if kind is not _JPEG and image.has_transparency_data:
        return "RGBA"
    if image.mode in kind.kept_modes:
        return image.mode
    # Black and white stays grey where the format keeps grey: a quarter of the bytes of RGB.
    return "L" if image.mode == "1" and "L" in kind.kept_modes else "RGB"


def _convert(picture: Image.Image, target: str) -> Image.Image:
    if picture.mode.startswith("I"):
        # A plain convert clips 16-bit grey at 255 and turns the picture white, so scale it down, by way of
        # 32-bit "I", the one mode Pillow maps to "L" through a full table.
        if picture.mode != "I":
            picture = _successor(picture, picture.convert("I"))
        picture = _successor(picture, picture.point(_sixteen_to_eight_bits(), "L"))
    if picture.mode != target:
        picture = _successor(picture, picture.convert(target))
    return picture


@functools.cache
def _sixteen_to_eight_bits() -> list[int]:
    return [value >> 8 for value in range(1 << 16)]


ORIENTATION_TAG = 0x0112

# EXIF orientation -> the one transpose that makes the picture upright (as ImageOps.exif_transpose does).
_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation: 1 (upright) when there is none, or none that can be read."""
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    # Unreadable EXIF does not make the picture unusable: keep it as stored rather than refuse evidence.
    except Exception:
        return 1
    return value if isinstance(value, int) else 1


def _turn(picture: Image.Image, orientation: int) -> Image.Image:
    """Turn the pixels the way the EXIF orientation says, since the tag itself is dropped."""
    method = _TURNS.get(orientation)
    return picture if method is None else _successor(picture, picture.transpose(method))


def _successor(source: Image.Image, made: Image.Image) -> Image.Image:
    """The next step's image, its source's pixels freed at once rather than when the caller lets go."""
    if made is not source:
        source.close()
    return made


_PATH_SEPARATORS = re.compile(r"[/\\]")
# A trailing ".xyz" with at least one letter is the sender's extension; "v1.2" is part of the name.
_OLD_EXTENSION = re.compile(r"\.(?=[0-9]*[^\W\d_])\w{1,5}\Z")
_EXTENSION = re.compile(r"\.[a-z0-9]{1,5}")
_TRIMMED_AT_ENDS = " ._-"


def safe_display_name(original_name: str, extension: str) -> str:
    """A name to offer on download: no path, no control characters, the extension of the detected type."""
    if not _EXTENSION.fullmatch(extension):
        raise ValueError(f"not a file extension: {extension!r}")
    # NFC first, so a decomposed "ü" from macOS stays one letter instead of a letter and a stray mark.
    name = unicodedata.normalize("NFC", original_name)
    name = _PATH_SEPARATORS.split(name)[-1]
    name = _OLD_EXTENSION.sub("", name)
    kept: list[str] = []
    for char in name:
        if char.isspace():
            kept.append(" ")
        elif unicodedata.category(char).startswith("C"):
            # Control, format (bidi overrides such as U+202E that disguise "gpj.exe") and unassigned.
            continue
        elif char.isalnum() or char in "-_.":
            kept.append(char)
        else:
            kept.append("_")
    stem = re.sub(r" {2,}", " ", "".join(kept)).strip(_TRIMMED_AT_ENDS)
    # Trimmed again after cutting: a leading dot hides a file, a trailing one confuses Windows.
    stem = stem[:MAX_STEM_LENGTH].strip(_TRIMMED_AT_ENDS)
    return (stem or FALLBACK_STEM) + extension
