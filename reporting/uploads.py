"""Accept an evidence file only as a freshly encoded copy with no metadata, or refuse it with a stable reason."""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

REFUSAL_REASONS = frozenset({"too_large", "unsupported_type", "bomb", "damaged", "empty"})

# How far into a file a PDF reader looks for its header; real PDFs sometimes carry a short prefix.
PDF_HEADER_WINDOW = 1024

# The name a file gets when nothing usable is left of the name it came with.
FALLBACK_STEM = "Datei"
MAX_STEM_LENGTH = 80


# The name is part of the agreed API, so it keeps no Error suffix.
class UploadRefused(ValueError):
    """A file that cannot be accepted; .reason is a stable code: 'too_large' | 'unsupported_type' | 'bomb' | 'damaged' | 'empty'."""

    reason: str

    def __init__(self, reason: str) -> None:
        if reason not in REFUSAL_REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(reason)
        self.reason = reason


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


_JPEG = _ImageKind("JPEG", "image/jpeg", ".jpg", frozenset({"L", "RGB"}), {"quality": 90})
_PNG = _ImageKind("PNG", "image/png", ".png", frozenset({"L", "RGB", "RGBA"}), {"optimize": True})
_WEBP = _ImageKind("WEBP", "image/webp", ".webp", frozenset({"RGB", "RGBA"}), {"quality": 90})
# GIF is encoded from RGB(A) so Pillow builds a fresh palette and picks the transparent index itself.
_GIF = _ImageKind("GIF", "image/gif", ".gif", frozenset({"RGB", "RGBA"}), {})


def clean_upload(data: bytes, *, max_bytes: int, max_pixels: int = 40_000_000) -> CleanFile:
    """Check an uploaded file and return what may be stored, or raise UploadRefused.

    Images above max_pixels, or above Pillow's own Image.MAX_IMAGE_PIXELS if that is lower, are bombs.
    """
    if not data:
        raise UploadRefused("empty")
    if len(data) > max_bytes:
        raise UploadRefused("too_large")
    kind = _detect_image_kind(data)
    if kind is not None:
        return CleanFile(_reencode_image(data, kind, max_pixels), kind.media_type, kind.extension, False)
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


def _reencode_image(data: bytes, kind: _ImageKind, max_pixels: int) -> bytes:
    """Decode the first frame, rebuild it from its pixels alone and encode it anew."""
    try:
        pixels = _decode_first_frame(data, kind, max_pixels)
        out = io.BytesIO()
        pixels.save(out, format=kind.pillow_format, **kind.encoder_options)
    except UploadRefused:
        raise
    except Image.DecompressionBombError as exc:
        raise UploadRefused("bomb") from exc
    # Pillow signals damage with OSError, SyntaxError, ValueError, struct.error, EOFError and more:
    # a reporter's file must never turn into a server error, so every failure becomes a refusal.
    except Exception as exc:
        raise UploadRefused("damaged") from exc
    return out.getvalue()


def _decode_first_frame(data: bytes, kind: _ImageKind, max_pixels: int) -> Image.Image:
    # Image.open reads only the header. Pillow warns about (and above twice its limit refuses) huge
    # images there, before our own check can run, so its warning is turned into an error here.
    # catch_warnings is not thread-safe before Python 3.14; should its restore race with another
    # thread, the only filter that can linger is this one, which refuses bombs everywhere: harmless.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[kind.pillow_format])
        except Image.DecompressionBombWarning as exc:
            raise UploadRefused("bomb") from exc
    with image:
        width, height = image.size
        # Checked on the header's numbers, so a bomb is refused before a single pixel is allocated.
        if width * height > max_pixels:
            raise UploadRefused("bomb")
        if width == 0 or height == 0:
            raise UploadRefused("damaged")
        # Animated GIF and WebP: only the first frame is loaded and kept. Rebuilding every frame with its
        # timing and disposal would add code for little evidential value, and what is not kept cannot leak.
        image.load()
        flat = _convert_mode(_apply_orientation(image), kind)
    # Built from raw pixel bytes, the new image starts with an empty .info: no EXIF, GPS, XMP, ICC,
    # comments or text chunks can reach the encoder, which would otherwise copy some of them.
    return Image.frombytes(flat.mode, flat.size, flat.tobytes())


ORIENTATION_TAG = 0x0112


def _apply_orientation(image: Image.Image) -> Image.Image:
    """Turn the pixels the way the EXIF orientation says, since the tag itself is dropped."""
    try:
        if image.getexif().get(ORIENTATION_TAG, 1) == 1:
            return image  # upright already: spare a full copy of the pixels
        return ImageOps.exif_transpose(image)
    # Unreadable EXIF does not make the picture unusable: keep it as stored rather than refuse evidence.
    except Exception:
        return image


def _convert_mode(image: Image.Image, kind: _ImageKind) -> Image.Image:
    if image.mode.startswith("I"):
        # 16-bit greyscale (PNG): a plain convert clips at 255 and turns the picture white, so scale down.
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    # Checked first: an RGB or L picture may still carry a transparent colour (PNG tRNS) to keep.
    if kind is not _JPEG and image.has_transparency_data:
        target = "RGBA"
    elif image.mode in kind.kept_modes:
        return image
    else:
        target = "RGB"
    return image if image.mode == target else image.convert(target)


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
