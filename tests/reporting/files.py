"""Builders for test uploads that carry a canary in every metadata slot, and readers that look for it."""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Iterator

from PIL import ExifTags, Image, ImageCms
from PIL.PngImagePlugin import PngInfo

CANARY = "CANARY-7f3a9"
CANARY_BYTES = CANARY.encode()

RED = (220, 20, 20)
GREEN = (20, 200, 40)
BLUE = (30, 40, 220)
YELLOW = (240, 220, 30)


def pattern(size: tuple[int, int] = (64, 48)) -> Image.Image:
    """Four flat quadrants: JPEG keeps flat colours nearly exact, so pixels can be compared."""
    width, height = size
    image = Image.new("RGB", size, RED)
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    image.paste(YELLOW, (width // 2, height // 2, width, height))
    return image


def exif_with_canary(orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = CANARY
    exif[ExifTags.Base.Artist] = CANARY
    exif[ExifTags.Base.Make] = "Canaryphone"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.5),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
        ExifTags.GPS.GPSMapDatum: CANARY,
    }
    return exif.tobytes()


def xmp_packet() -> bytes:
    return (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="' + CANARY_BYTES + b'"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )


def icc_with_canary() -> bytes:
    """A real sRGB profile with the canary appended: readers keep profiles as opaque bytes."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes() + CANARY_BYTES


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def insert_jpeg_segment(data: bytes, marker: int, payload: bytes) -> bytes:
    """Put a segment right after SOI, by hand, so the test does not depend on what Pillow can write."""
    segment = bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]


def jpeg_with_metadata(image: Image.Image | None = None, orientation: int | None = None) -> bytes:
    data = encode(
        image or pattern(),
        "JPEG",
        quality=95,
        exif=exif_with_canary(orientation),
        comment=CANARY,
        icc_profile=icc_with_canary(),
    )
    data = insert_jpeg_segment(data, 0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet())
    return insert_jpeg_segment(data, 0xFE, b"second comment " + CANARY_BYTES)


def png_info_with_canary() -> PngInfo:
    info = PngInfo()
    info.add_text("Author", CANARY)  # tEXt
    info.add_text("Comment", CANARY, zip=True)  # zTXt
    info.add_itxt("Description", CANARY, lang="de", tkey="Beschreibung", zip=True)  # compressed iTXt
    info.add_itxt("XML:com.adobe.xmp", xmp_packet().decode())  # where Pillow reads PNG XMP from
    return info


def png_with_metadata(image: Image.Image | None = None, orientation: int | None = None) -> bytes:
    return encode(
        image or pattern(),
        "PNG",
        pnginfo=png_info_with_canary(),
        icc_profile=icc_with_canary(),  # iCCP: zlib-compressed, so the canary is not visible raw
        exif=exif_with_canary(orientation),  # eXIf
    )


def webp_with_metadata(image: Image.Image | None = None) -> bytes:
    return encode(
        image or pattern(),
        "WEBP",
        lossless=True,
        exif=exif_with_canary(),
        xmp=xmp_packet(),
        icc_profile=icc_with_canary(),
    )


def gif_with_comment(image: Image.Image | None = None) -> bytes:
    return encode(image or pattern(), "GIF", comment=CANARY)


def animated(fmt: str, first: Image.Image, second: Image.Image, **options: object) -> bytes:
    return encode(first, fmt, save_all=True, append_images=[second], duration=100, loop=0, **options)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int, colour_type: int = 0) -> bytes:
    """A PNG that claims a size it does not have: enough for Pillow to read the header (0 grey, 6 RGBA)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))


@functools.cache
def png_bomb(side: int = 20_000) -> bytes:
    """A real, valid 1-bit black PNG of side x side pixels: ~50 MB of rows compress to ~50 kB."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte + packed bits
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def gif_header_only(width: int, height: int) -> bytes:
    """A GIF whose logical screen and first frame claim a huge size, with one byte of image data."""
    screen = struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return b"GIF89a" + screen + frame + b"\x02\x02\x44\x01\x00" + b"\x3b"


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """The marker segments before the image data (SOS), as (marker, payload)."""
    assert data[:2] == b"\xff\xd8"
    segments = []
    position = 2
    while position < len(data):
        assert data[position] == 0xFF
        marker = data[position + 1]
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        segments.append((marker, data[position + 4 : position + 2 + length]))
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        position += 2 + length
    return segments


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = []
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunks.append((data[position + 4 : position + 8], data[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WEBP"
    chunks = []
    position = 12
    while position + 8 <= len(data):
        (length,) = struct.unpack("<I", data[position + 4 : position + 8])
        chunks.append((data[position : position + 4], data[position + 8 : position + 8 + length]))
        position += 8 + length + (length & 1)  # chunks are padded to an even size
    return chunks


def zlib_streams(data: bytes) -> Iterator[bytes]:
    """Every zlib stream that starts anywhere in data, decompressed: finds iCCP, zTXt, iTXt, IDAT alike."""
    for position in range(len(data) - 1):
        if data[position] & 0x0F != 8 or (data[position] << 8 | data[position + 1]) % 31:
            continue  # not a valid zlib header (deflate method, check bits)
        decompressor = zlib.decompressobj()
        try:
            inflated = decompressor.decompress(data[position:], 10_000_000)
        except zlib.error:
            continue
        if inflated:
            yield inflated


def canary_anywhere(data: bytes) -> bool:
    """The canary in the raw bytes or inside any compressed stream, in UTF-8 or UTF-16."""
    needles = (CANARY_BYTES, CANARY.encode("utf-16-le"), CANARY.encode("utf-16-be"))
    if any(needle in data for needle in needles):
        return True
    return any(needle in stream for stream in zlib_streams(data) for needle in needles)


def pdf_with_author(text: str) -> bytes:
    """A small PDF whose body and document information (Author) carry `text`."""
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"3 0 obj << /Author (" + text.encode() + b") >> endobj\n"
        b"4 0 obj << /Length 44 >> stream\nBT /F1 12 Tf (" + text.encode() + b") Tj ET\nendstream endobj\n"
        b"trailer << /Root 1 0 R /Info 3 0 R >>\n%%EOF\n"
    )
