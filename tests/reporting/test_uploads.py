"""Evidence uploads: type by content, nothing identifying survives, hostile files are refused."""

from __future__ import annotations

import io
import struct
import time
import warnings
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageOps, ImageStat, PngImagePlugin

from reporting.uploads import (
    GIF_MAX_PIXELS,
    JPEG_MAX_PIXELS,
    MAX_JPEG_SCANS,
    MAX_REBUILD_BYTES,
    PNG_MAX_PIXELS,
    WEBP_MAX_PIXELS,
    CleanFile,
    UploadRefused,
    clean_upload,
    safe_display_name,
)
from tests.reporting import files
from tests.reporting.files import BLUE, CANARY, RED, canary_anywhere

MAX_BYTES = 10_000_000
# JPEG and lossy WebP shift flat colours by a few levels (twice here: once writing the test file, once
# cleaning it); a wrong picture or a wrong turn differs by a hundred or more.
LOSSY = 12
METADATA_KEYS = {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "Author", "Comment", "Description"}


def clean(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int | None = None) -> CleanFile:
    return clean_upload(data, max_bytes=max_bytes, max_pixels=max_pixels)


def refusal(data: bytes, **options: int) -> str:
    with pytest.raises(UploadRefused) as caught:
        clean(data, **options)
    return caught.value.reason


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def alpha(image: Image.Image, xy: tuple[int, int]) -> int:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel[3]


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    return max(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean)


def assert_no_metadata(result: CleanFile) -> Image.Image:
    """The canary is gone from the bytes and from every compressed stream, and Pillow finds no metadata."""
    assert not canary_anywhere(result.data)
    image = reopen(result.data)
    assert not METADATA_KEYS & image.info.keys(), image.info.keys()
    assert not image.getexif()
    assert not result.metadata_warning
    return image


def outcome(data: bytes) -> str:
    """'taken', or the reason the file was refused."""
    try:
        clean(data)
    except UploadRefused as refused:
        return refused.reason
    return "taken"


def caught_refusal(data: bytes, **options: int) -> UploadRefused:
    with pytest.raises(UploadRefused) as caught:
        clean(data, **options)
    return caught.value


def jpeg_claiming(width: int, height: int, **options: object) -> bytes:
    """A small real JPEG whose frame header claims another size: all the header checks look at."""
    data = bytearray(files.encode(files.pattern((16, 16)), "JPEG", **options))
    sof = next(at for at in range(2, len(data)) if data[at] == 0xFF and data[at + 1] in (0xC0, 0xC2))
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    """A small lossless WebP whose VP8L header claims another size (14 bits each for width - 1, height - 1)."""
    data = bytearray(files.encode(Image.new("RGB", (16, 16)), "WEBP", lossless=True))
    assert (bytes(data[12:16]), data[20]) == (b"VP8L", 0x2F)
    bits = int.from_bytes(data[21:25], "little") & ~((1 << 28) - 1)
    data[21:25] = (bits | (width - 1) | (height - 1) << 14).to_bytes(4, "little")
    return bytes(data)


def with_repeated_last_scan(data: bytes, times: int) -> bytes:
    """A progressive JPEG with its last scan repeated: libjpeg warns about the progression and decodes on."""
    last_scan = data[data.rindex(b"\xff\xda") : -2]
    return data[:-2] + last_scan * times + data[-2:]


# Metadata -------------------------------------------------------------------------------------------------


def test_jpeg_loses_exif_gps_comments_xmp_and_icc() -> None:
    original = files.jpeg_with_metadata()
    assert canary_anywhere(original)
    assert {"exif", "icc_profile", "xmp", "comment"} <= reopen(original).info.keys()

    result = clean(original)

    assert (result.media_type, result.extension) == ("image/jpeg", ".jpg")
    image = assert_no_metadata(result)
    # Only the JFIF header, tables and frame remain: no APPn beyond APP0, no COM.
    markers = {marker for marker, _ in files.jpeg_segments(result.data)}
    assert markers <= {0xE0, 0xDB, 0xC4, 0xC0, 0xC2, 0xDD, 0xDA}, sorted(hex(m) for m in markers)
    assert image.mode == "RGB"
    assert mean_difference(image, files.pattern()) < LOSSY


def test_png_loses_text_chunks_xmp_exif_and_the_compressed_icc_profile() -> None:
    original = files.png_with_metadata()
    # The canary in iCCP, zTXt and compressed iTXt is only visible after inflating: the check must see it.
    assert CANARY.encode() in b"".join(files.zlib_streams(original))
    assert {"icc_profile", "exif", "xmp", "Author", "Comment", "Description"} <= reopen(original).info.keys()

    result = clean(original)

    assert (result.media_type, result.extension) == ("image/png", ".png")
    image = assert_no_metadata(result)
    assert {kind for kind, _ in files.png_chunks(result.data)} <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    assert isinstance(image, PngImagePlugin.PngImageFile)
    assert not image.text
    assert mean_difference(image, files.pattern()) == 0


def test_webp_loses_exif_xmp_and_icc() -> None:
    original = files.webp_with_metadata()
    assert canary_anywhere(original)
    assert {kind for kind, _ in files.riff_chunks(original)} >= {b"EXIF", b"XMP ", b"ICCP"}

    result = clean(original)

    assert (result.media_type, result.extension) == ("image/webp", ".webp")
    image = assert_no_metadata(result)
    assert {kind for kind, _ in files.riff_chunks(result.data)} <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}
    assert mean_difference(image, files.pattern()) < LOSSY


def test_gif_loses_its_comment() -> None:
    original = files.gif_with_comment()
    assert canary_anywhere(original)

    result = clean(original)

    assert (result.media_type, result.extension) == ("image/gif", ".gif")
    image = assert_no_metadata(result)
    assert b"\x21\xfe" not in result.data  # no comment extension introducer at all
    assert mean_difference(image, files.pattern()) == 0


@pytest.mark.parametrize("build", [files.jpeg_with_metadata, files.png_with_metadata], ids=["jpeg", "png"])
def test_orientation_is_applied_to_the_pixels_before_the_tag_is_dropped(build: Callable[..., bytes]) -> None:
    wide = Image.new("RGB", (32, 16), RED)
    wide.paste(BLUE, (16, 0, 32, 16))

    image = reopen(clean(build(wide, orientation=6)).data)

    # Orientation 6 means "turn 90° clockwise to view": the left half ends up on top.
    assert image.size == (16, 32)
    assert mean_difference(image.crop((0, 0, 16, 16)), Image.new("RGB", (16, 16), RED)) < LOSSY
    assert mean_difference(image.crop((0, 16, 16, 32)), Image.new("RGB", (16, 16), BLUE)) < LOSSY
    assert not image.getexif()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_turns_the_pixels_as_pillows_own_exif_transpose_does(orientation: int) -> None:
    # No two quadrants alike and no symmetry: any wrong flip or turn changes the pixels.
    asymmetric = files.pattern((6, 4))
    asymmetric.putpixel((0, 0), (0, 0, 0))
    original = files.png_with_metadata(asymmetric, orientation=orientation)

    image = reopen(clean(original).data)

    expected = ImageOps.exif_transpose(reopen(original))
    assert (image.size, image.tobytes()) == (expected.size, expected.convert("RGB").tobytes())


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: files.jpeg_with_metadata(files.pattern().convert("CMYK")), id="cmyk jpeg: mode change"),
        pytest.param(lambda: files.jpeg_with_metadata(files.pattern(), orientation=8), id="jpeg: turn"),
        pytest.param(
            lambda: files.png_with_metadata(files.pattern().convert("P"), orientation=6), id="palette png: turn, change"
        ),
        pytest.param(
            lambda: files.png_with_metadata(Image.new("I;16", (8, 4), 40_000), orientation=5),
            id="16-bit png: change, turn",
        ),
    ],
)
def test_metadata_is_gone_whichever_steps_the_pixels_take(build: Callable[[], bytes]) -> None:
    original = build()
    assert canary_anywhere(original)
    assert_no_metadata(clean(original))


def test_a_two_by_one_png_with_orientation_6_becomes_one_by_two() -> None:
    wide = Image.new("RGB", (2, 1), RED)
    wide.putpixel((1, 0), BLUE)

    image = reopen(clean(files.png_with_metadata(wide, orientation=6)).data)

    assert image.size == (1, 2)
    assert (image.getpixel((0, 0)), image.getpixel((0, 1))) == (RED, BLUE)


def test_unreadable_exif_does_not_refuse_the_picture() -> None:
    data = files.insert_jpeg_segment(files.encode(files.pattern(), "JPEG"), 0xE1, b"Exif\x00\x00II*\x00\xff\xff")

    image = reopen(clean(data).data)

    assert image.size == (64, 48)


# Modes and frames -----------------------------------------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb() -> None:
    image = reopen(clean(files.encode(files.pattern().convert("CMYK"), "JPEG", quality=95)).data)
    assert image.mode == "RGB"
    assert mean_difference(image, files.pattern()) < LOSSY


def test_greyscale_stays_greyscale() -> None:
    grey = files.pattern().convert("L")
    assert reopen(clean(files.encode(grey, "JPEG")).data).mode == "L"
    assert list(reopen(clean(files.encode(grey, "PNG")).data).tobytes()) == list(grey.tobytes())


def test_black_and_white_becomes_greyscale_not_rgb() -> None:
    black_and_white = Image.new("1", (8, 8), 0)
    black_and_white.putpixel((1, 1), 1)

    image = reopen(clean(files.encode(black_and_white, "PNG")).data)

    assert image.mode == "L"
    assert (image.getpixel((0, 0)), image.getpixel((1, 1))) == (0, 255)


def test_palette_png_keeps_its_transparency() -> None:
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, *RED, *BLUE] + [0] * (253 * 3))
    palette.putpixel((0, 0), 2)
    data = files.encode(palette, "PNG", transparency=1)

    image = reopen(clean(data).data)

    assert image.mode == "RGBA"
    assert alpha(image, (1, 1)) == 0
    assert image.getpixel((0, 0)) == (*BLUE, 255)


def test_greyscale_with_alpha_becomes_rgba_with_the_same_alpha() -> None:
    image = reopen(clean(files.encode(Image.new("LA", (3, 3), (90, 40)), "PNG")).data)
    assert image.mode == "RGBA"
    assert image.getpixel((1, 1)) == (90, 90, 90, 40)


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    deep = Image.new("I;16", (3, 3), 40_000)
    image = reopen(clean(files.encode(deep, "PNG")).data)
    assert image.mode == "L"
    assert image.getpixel((1, 1)) == 40_000 // 256


def test_webp_keeps_alpha() -> None:
    translucent = Image.new("RGBA", (8, 8), (*RED, 255))
    translucent.putpixel((0, 0), (0, 0, 0, 0))
    image = reopen(clean(files.encode(translucent, "WEBP", lossless=True)).data)
    assert image.mode == "RGBA"
    assert alpha(image, (0, 0)) == 0
    assert alpha(image, (4, 4)) == 255


def test_gif_keeps_its_transparent_colour() -> None:
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([*RED, *BLUE] + [0] * (254 * 3))
    palette.putpixel((0, 0), 1)
    image = reopen(clean(files.encode(palette, "GIF", transparency=0)).data).convert("RGBA")
    assert alpha(image, (1, 1)) == 0
    assert image.getpixel((0, 0)) == (*BLUE, 255)


@pytest.mark.parametrize(("fmt", "options"), [("GIF", {}), ("WEBP", {"lossless": True}), ("PNG", {})])
def test_only_the_first_frame_of_an_animation_is_kept(fmt: str, options: dict[str, object]) -> None:
    first, second = Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)
    original = files.animated(fmt, first, second, **options)
    assert getattr(reopen(original), "n_frames", 1) == 2

    image = reopen(clean(original).data)

    assert getattr(image, "n_frames", 1) == 1
    assert mean_difference(image, first) < LOSSY


def test_data_hidden_after_the_image_is_not_kept() -> None:
    hidden = b"%PDF-1.7 " + CANARY.encode()
    for fmt in ("JPEG", "PNG", "GIF"):
        result = clean(files.encode(files.pattern(), fmt) + hidden)
        assert hidden not in result.data
        assert result.media_type.startswith("image/")


# Type by content ------------------------------------------------------------------------------------------


def test_a_png_named_pdf_is_a_png() -> None:
    """The name plays no part: the bytes decide, and the download name follows the bytes."""
    result = clean(files.encode(files.pattern(), "PNG"))
    assert (result.media_type, result.extension, result.metadata_warning) == ("image/png", ".png", False)
    assert safe_display_name("scan.pdf", result.extension) == "scan.png"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"Hallo, das ist nur Text und kein Foto.\n", id="text named photo.jpg"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", id="svg"),
        pytest.param(b"<!doctype html><html><body>hi</body></html>", id="html"),
        pytest.param(b"PK\x03\x04" + b"\0" * 60, id="zip"),
        pytest.param(b"MZ\x90\x00" + b"\0" * 60, id="exe"),
        pytest.param(b"\x00\x00\x00\x18ftypheic" + b"\0" * 60, id="heic"),
        pytest.param(files.encode(files.pattern(), "BMP"), id="bmp"),
        pytest.param(files.encode(files.pattern(), "TIFF"), id="tiff"),
        pytest.param(b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\0" * 60, id="wav is riff but not webp"),
        pytest.param(b"\0" * 1024 + b"%PDF-1.7\n", id="pdf header too late"),
    ],
)
def test_anything_else_is_refused_as_unsupported(data: bytes) -> None:
    assert refusal(data) == "unsupported_type"


def test_pdf_is_kept_byte_for_byte_with_a_metadata_warning() -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Author (" + CANARY.encode() + b")>> endobj\n%%EOF\n"
    result = clean(pdf)
    assert result == CleanFile(pdf, "application/pdf", ".pdf", metadata_warning=True)


def test_pdf_header_may_follow_a_short_prefix() -> None:
    assert clean(b"\xef\xbb\xbf garbage\n" + b"%PDF-1.4\n%%EOF").media_type == "application/pdf"


# Refusals -------------------------------------------------------------------------------------------------


def test_empty_is_refused() -> None:
    assert refusal(b"") == "empty"


def test_size_limit_is_inclusive() -> None:
    pdf = b"%PDF-1.7\n" + b"x" * 91
    assert clean(pdf, max_bytes=100).data == pdf
    assert refusal(pdf + b"x", max_bytes=100) == "too_large"


def test_a_real_bomb_is_refused_before_any_pixel_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = files.png_bomb()  # 20000 x 20000: 400 million pixels in ~50 kB
    assert len(bomb) < 100_000

    def no_decoding(self: Image.Image) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    started = time.perf_counter()
    assert refusal(bomb) == "bomb"
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(files.png_header_only(7_000, 7_000), id="over our limit"),
        pytest.param(files.png_header_only(10_000, 10_000), id="where Pillow warns"),
        pytest.param(files.png_header_only(100_000, 100_000), id="where Pillow refuses"),
        pytest.param(files.gif_header_only(65_535, 65_535), id="gif"),
    ],
)
def test_huge_dimensions_are_refused_as_bomb_and_leave_global_state_alone(data: bytes) -> None:
    filters_before, limit_before = list(warnings.filters), Image.MAX_IMAGE_PIXELS
    assert refusal(data) == "bomb"
    assert (list(warnings.filters), Image.MAX_IMAGE_PIXELS) == (filters_before, limit_before)


def test_pillows_bomb_warning_refuses_even_where_warnings_are_only_printed() -> None:
    """In production a warning is not an error; the module must not rely on the suite's -W error."""
    huge = files.png_header_only(10_000, 10_000)  # above Pillow's warning limit, below the caller's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert refusal(huge, max_pixels=1_000_000_000) == "bomb"


def test_pixel_limit_is_the_callers() -> None:
    png = files.encode(files.pattern((10, 10)), "PNG")
    assert clean(png, max_pixels=100).extension == ".png"
    assert refusal(png, max_pixels=99) == "bomb"


@pytest.mark.parametrize(
    ("data", "limit"),
    [
        pytest.param(jpeg_claiming(9_000, 6_000), JPEG_MAX_PIXELS, id="jpeg over 52 MP"),
        pytest.param(files.png_header_only(7_000, 7_000), PNG_MAX_PIXELS, id="png over 40 MP"),
        pytest.param(files.png_bomb(), PNG_MAX_PIXELS, id="png where Pillow refuses"),
        pytest.param(webp_claiming(5_000, 5_000), WEBP_MAX_PIXELS, id="webp over 24 MP"),
        pytest.param(files.gif_header_only(65_535, 65_535), GIF_MAX_PIXELS, id="gif over 16 MP"),
    ],
)
def test_a_bomb_carries_the_pixel_limit_of_its_format(data: bytes, limit: int) -> None:
    refused = caught_refusal(data)
    assert (refused.reason, refused.limit_pixels) == ("bomb", limit)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(jpeg_claiming(8_192, 6_144), id="50 MP phone photo"),
        pytest.param(files.png_header_only(7_680, 4_320, colour_type=6), id="8K screenshot with alpha"),
        pytest.param(webp_claiming(6_000, 4_000), id="24 MP camera photo as WebP"),
    ],
)
def test_the_format_limits_take_phone_photos_and_screenshots(data: bytes) -> None:
    # Headers of real sizes pass every budget (the sizes above them are bombs, see above). Their
    # pixels are missing: libjpeg and libwebp decode what there is, Pillow's PNG decoder refuses.
    assert outcome(data) in ("taken", "damaged")


def test_a_caller_can_lower_the_limit_but_not_raise_it() -> None:
    assert caught_refusal(files.png_header_only(7_000, 7_000), max_pixels=10**9).limit_pixels == PNG_MAX_PIXELS
    assert caught_refusal(files.png_header_only(100, 100), max_pixels=9_999).limit_pixels == 9_999


def test_a_jpeg_that_needs_libjpegs_coefficient_buffer_has_a_lower_limit() -> None:
    """Progressive without chroma subsampling: 6 bytes of coefficients a pixel beside the picture's 4."""
    refused = caught_refusal(jpeg_claiming(8_000, 6_000, progressive=True, subsampling=0))
    assert (refused.reason, refused.limit_pixels) == ("bomb", MAX_REBUILD_BYTES // 10)
    assert JPEG_MAX_PIXELS > 8_000 * 6_000  # a baseline JPEG of this size is taken


def test_a_jpeg_of_too_many_scans_is_refused_before_decoding() -> None:
    progressive = files.encode(files.pattern(), "JPEG", progressive=True)
    scans = progressive.count(b"\xff\xda")
    assert 2 <= scans < MAX_JPEG_SCANS

    assert clean(with_repeated_last_scan(progressive, MAX_JPEG_SCANS - scans)).extension == ".jpg"
    started = time.perf_counter()
    assert refusal(with_repeated_last_scan(progressive, 50_000)) == "damaged"
    assert time.perf_counter() - started < 0.5  # decoding those 50,000 scans would take seconds


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_truncated(files.encode(files.pattern((256, 256)), "JPEG")), id="truncated jpeg"),
        pytest.param(_truncated(files.encode(files.pattern((256, 256)), "PNG")), id="truncated png"),
        pytest.param(_truncated(files.encode(files.pattern((256, 256)), "GIF")), id="truncated gif"),
        pytest.param(_truncated(files.encode(files.pattern((256, 256)), "WEBP")), id="truncated webp"),
        pytest.param(b"\xff\xd8\xff" + b"\x00" * 200, id="jpeg magic only"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, id="png magic only"),
        pytest.param(b"GIF89a" + b"\x00" * 5, id="gif magic only"),
        pytest.param(b"RIFF\x00\x01\x00\x00WEBPVP8 " + b"\xff" * 200, id="webp magic only"),
        pytest.param(files.png_header_only(0, 0), id="png of no pixels"),
    ],
)
def test_damaged_images_are_refused_as_damaged(data: bytes) -> None:
    assert refusal(data) == "damaged"


def test_refusal_reasons_are_a_closed_set() -> None:
    assert UploadRefused("bomb").reason == "bomb"
    assert UploadRefused("bomb").limit_pixels is None
    assert UploadRefused("busy").reason == "busy"
    assert isinstance(UploadRefused("empty"), ValueError)
    with pytest.raises(ValueError, match="unknown refusal reason"):
        UploadRefused("too_big")


# Display names --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "extension", "expected"),
    [
        ("../../etc/passwd", ".pdf", "passwd.pdf"),
        ("C:\\Users\\Max Mustermann\\Desktop\\Drohbrief.pdf", ".pdf", "Drohbrief.pdf"),
        ("Foto.JPEG", ".jpg", "Foto.jpg"),
        ("scan.pdf", ".png", "scan.png"),
        ("Bericht v1.2", ".pdf", "Bericht v1.2.pdf"),
        ("Screenshot 2024-05-01 at 10:30:00.png", ".png", "Screenshot 2024-05-01 at 10_30_00.png"),
        ("Mu\u0308nchen Rathaus.jpg", ".jpg", "München Rathaus.jpg"),
        ("rechnung\u202egpj.exe", ".png", "rechnunggpj.png"),
        ("a\x00b\x1bc\nd\te", ".gif", "abc d e.gif"),
        ("...hidden", ".png", "hidden.png"),
        ("", ".pdf", "Datei.pdf"),
        ("/", ".pdf", "Datei.pdf"),
        ("\x00\x01\x02.jpg", ".jpg", "Datei.jpg"),
        ("<script>.png", ".png", "script.png"),
    ],
)
def test_display_name_examples(original: str, extension: str, expected: str) -> None:
    assert safe_display_name(original, extension) == expected


def test_display_name_is_cut_to_80_characters_before_the_extension() -> None:
    assert safe_display_name("x" * 300 + ".pdf", ".pdf") == "x" * 80 + ".pdf"
    assert safe_display_name("a" * 79 + " " + "b" * 20, ".pdf") == "a" * 79 + ".pdf"


def test_display_name_rejects_an_extension_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="not a file extension"):
        safe_display_name("x", "/../x")


@given(st.text(max_size=400), st.sampled_from([".jpg", ".png", ".webp", ".gif", ".pdf"]))
def test_display_name_is_always_safe(original: str, extension: str) -> None:
    name = safe_display_name(original, extension)
    assert name.endswith(extension)
    assert len(name) <= 80 + len(extension)
    stem = name.removesuffix(extension)
    assert stem
    assert not stem.startswith((".", " "))
    assert "/" not in name
    assert "\\" not in name
    assert all(char.isprintable() for char in name)
    assert safe_display_name(name, extension) == name
