"""Chunked encryption of attachments in bounded memory: AES-256-GCM per chunk (STREAM style).

Layout:
    header   version (1) | kind 0x03 (1) | nonce prefix (8) | chunk size (4, big-endian)
    chunks   ciphertext (chunk size bytes; the final chunk is shorter) | tag (16), repeated

Chunk i uses nonce = prefix || i as 4 bytes big-endian, and associated data
header (14) || final flag (0x00 or 0x01) || b"komma/v1/" + purpose + b"/" + record_id.

The final chunk is always shorter than the chunk size (empty if the plaintext fills the last
chunk exactly), so a reader knows which chunk is final without reading ahead. The counter
detects reordering, the random prefix detects chunks spliced in from another file under the
same key, and the authenticated final flag means a stream cut at a chunk boundary can never
pass as complete; bytes appended after the end extend the final chunk and break its tag. The
header is part of every chunk's associated data, so it cannot be altered either.
"""

import io
import secrets
import struct
from collections.abc import Iterator
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._blob import VERSION, Kind, check_header, check_key, context
from .errors import DecryptionError, FormatError

DEFAULT_CHUNK_SIZE = 64 * 1024
# Upper bound for the chunk size read from a header: it caps what a decryptor allocates.
MAX_CHUNK_SIZE = 8 * 1024 * 1024
PREFIX_SIZE = 8
TAG_SIZE = 16
_HEADER = struct.Struct(">BB8sI")
HEADER_SIZE = _HEADER.size
# The counter is 4 bytes; one more chunk would repeat a nonce.
_MAX_CHUNKS = 2**32


class ByteSource(Protocol):
    """Anything with read(size) -> bytes: open files, BytesIO, upload streams."""

    def read(self, size: int, /) -> bytes: ...


class ByteSink(Protocol):
    """Anything with write(bytes): open files, BytesIO, response buffers."""

    def write(self, data: bytes, /) -> object: ...


def encrypt_stream(
    key: bytes,
    src: ByteSource,
    dst: ByteSink,
    *,
    purpose: str,
    record_id: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> int:
    """Encrypt src into dst one chunk at a time; return the number of bytes written."""
    prefix = secrets.token_bytes(PREFIX_SIZE)
    return _encrypt_stream(key, src, dst, purpose, record_id, chunk_size, prefix)


def iter_decrypt_stream(key: bytes, src: ByteSource, *, purpose: str, record_id: str) -> Iterator[bytes]:
    """Yield verified plaintext chunks of an encrypted stream, e.g. for a streaming download.

    Each chunk is authenticated before it is yielded, but truncation is only detectable at
    the end: DecryptionError may come after some chunks were yielded, and callers must then
    treat everything already received as untrusted (abort the response, delete the file).
    Bytes appended to a stream become part of its short final chunk, so its tag fails too.
    Argument errors raise here; format and authentication errors raise during iteration.
    """
    check_key(key)
    return _decrypt_chunks(AESGCM(key), src, context(purpose, record_id))


def decrypt_stream(key: bytes, src: ByteSource, dst: ByteSink, *, purpose: str, record_id: str) -> int:
    """Decrypt src into dst; return plaintext bytes written. On error, discard dst's content."""
    written = 0
    for chunk in iter_decrypt_stream(key, src, purpose=purpose, record_id=record_id):
        dst.write(chunk)
        written += len(chunk)
    return written


def encrypt_bytes_stream(
    key: bytes, data: bytes, *, purpose: str, record_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> bytes:
    """encrypt_stream for data already in memory."""
    out = io.BytesIO()
    encrypt_stream(key, io.BytesIO(data), out, purpose=purpose, record_id=record_id, chunk_size=chunk_size)
    return out.getvalue()


def decrypt_bytes_stream(key: bytes, blob: bytes, *, purpose: str, record_id: str) -> bytes:
    """decrypt_stream for a blob already in memory; returns all plaintext or raises."""
    out = io.BytesIO()
    decrypt_stream(key, io.BytesIO(blob), out, purpose=purpose, record_id=record_id)
    return out.getvalue()


def _encrypt_stream(
    key: bytes,
    src: ByteSource,
    dst: ByteSink,
    purpose: str,
    record_id: str,
    chunk_size: int,
    prefix: bytes,
) -> int:
    """encrypt_stream with the nonce prefix given, so tests can pin the format."""
    check_key(key)
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}")
    ctx = context(purpose, record_id)
    head = _HEADER.pack(VERSION, Kind.STREAM, prefix, chunk_size)
    aads = (head + b"\x00" + ctx, head + b"\x01" + ctx)
    aead = AESGCM(key)
    dst.write(head)
    written = len(head)
    counter = 0
    while True:
        if counter >= _MAX_CHUNKS:
            raise ValueError("stream too long for this chunk size")
        chunk = _read_exactly(src, chunk_size)
        final = len(chunk) < chunk_size
        sealed = aead.encrypt(prefix + counter.to_bytes(4, "big"), chunk, aads[final])
        dst.write(sealed)
        written += len(sealed)
        if final:
            return written
        counter += 1


def _decrypt_chunks(aead: AESGCM, src: ByteSource, ctx: bytes) -> Iterator[bytes]:
    """The generator behind iter_decrypt_stream; holds at most one chunk and its plaintext."""
    head = _read_exactly(src, HEADER_SIZE)
    check_header(head, Kind.STREAM)
    if len(head) < HEADER_SIZE:
        raise DecryptionError("stream is truncated inside its header")
    _, _, prefix, chunk_size = _HEADER.unpack(head)
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise FormatError(f"chunk size {chunk_size} out of range")
    aads = (head + b"\x00" + ctx, head + b"\x01" + ctx)
    counter = 0
    while True:
        sealed = _read_exactly(src, chunk_size + TAG_SIZE)
        final = len(sealed) < chunk_size + TAG_SIZE
        # Less than a tag means the stream ended before its final chunk.
        if len(sealed) < TAG_SIZE or counter >= _MAX_CHUNKS:
            raise DecryptionError("stream is truncated")
        try:
            plaintext = aead.decrypt(prefix + counter.to_bytes(4, "big"), sealed, aads[final])
        except InvalidTag:
            raise DecryptionError(f"chunk {counter} failed authentication") from None
        if final:
            if plaintext:
                yield plaintext
            return
        yield plaintext
        counter += 1


def _read_exactly(src: ByteSource, size: int) -> bytes:
    """Read size bytes, or fewer only at end of input (raw files and pipes return short reads)."""
    data = src.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    missing = size - len(data)
    while missing:
        more = src.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)
