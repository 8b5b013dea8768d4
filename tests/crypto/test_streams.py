"""Chunked stream encryption: round trips, tampering, truncation, splicing and bounded memory."""

import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto.streams import HEADER_SIZE, MAX_CHUNK_SIZE, TAG_SIZE

KEY = crypto.random_key()
CTX: dict[str, Any] = {"purpose": "attachment", "record_id": "case-0001/att-1"}


def enc(data: bytes, chunk_size: int = 8, key: bytes = KEY) -> bytes:
    return crypto.encrypt_bytes_stream(key, data, chunk_size=chunk_size, **CTX)


def dec(blob: bytes, key: bytes = KEY) -> bytes:
    return crypto.decrypt_bytes_stream(key, blob, **CTX)


def chunks(blob: bytes, chunk_size: int) -> tuple[bytes, list[bytes]]:
    """Split a stream blob into its header and sealed chunks."""
    body = blob[HEADER_SIZE:]
    step = chunk_size + TAG_SIZE
    return blob[:HEADER_SIZE], [body[i : i + step] for i in range(0, len(body), step)]


def drain(pieces: Iterator[bytes], into: list[bytes]) -> None:
    """Collect what an iterator yields before it raises."""
    for piece in pieces:
        into.append(piece)


def flip(blob: bytes, bit: int) -> bytes:
    out = bytearray(blob)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


class ShortReads(io.RawIOBase):
    """A source that hands out at most a few bytes per read, like a pipe or socket."""

    def __init__(self, data: bytes, most: int = 3) -> None:
        self._data = io.BytesIO(data)
        self._most = most

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, self._most))


class Zeros(io.RawIOBase):
    """size zero bytes, produced on demand; records the largest read asked for."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.max_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.max_read = max(self.max_read, size)
        n = min(size, self.left)
        self.left -= n
        return bytes(n)


class Sink(io.RawIOBase):
    """Counts and discards what is written."""

    written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.written += len(data)
        return len(data)


@settings(max_examples=60)
@given(data=st.binary(max_size=3000), chunk_size=st.integers(1, 600))
def test_round_trip(data: bytes, chunk_size: int) -> None:
    blob = enc(data, chunk_size)
    # The final chunk is always short, so there is one more chunk than full chunks.
    assert len(blob) == HEADER_SIZE + len(data) + TAG_SIZE * (len(data) // chunk_size + 1)
    assert dec(blob) == data
    pieces = list(crypto.iter_decrypt_stream(KEY, io.BytesIO(blob), **CTX))
    assert b"".join(pieces) == data
    assert all(len(p) == chunk_size for p in pieces[:-1])


def test_file_round_trip_and_counts(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    src, enc_path, out = tmp_path / "in", tmp_path / "enc", tmp_path / "out"
    src.write_bytes(data)
    with src.open("rb") as s, enc_path.open("wb") as d:
        written = crypto.encrypt_stream(KEY, s, d, **CTX)
    assert written == enc_path.stat().st_size
    with enc_path.open("rb") as s, out.open("wb") as d:
        assert crypto.decrypt_stream(KEY, s, d, **CTX) == len(data)
    assert out.read_bytes() == data


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 24])
def test_short_reads_are_handled(size: int) -> None:
    data = bytes(range(size))
    out = io.BytesIO()
    crypto.encrypt_stream(KEY, ShortReads(data), out, chunk_size=8, **CTX)
    plain = io.BytesIO()
    crypto.decrypt_stream(KEY, ShortReads(out.getvalue()), plain, **CTX)
    assert plain.getvalue() == data


@pytest.mark.parametrize("size", [0, 20, 24])
def test_every_flipped_bit_fails(size: int) -> None:
    blob = enc(bytes(range(size)))
    for bit in range(len(blob) * 8):
        if bit < 16:
            expected: type[crypto.CryptoError] = crypto.FormatError
        elif 80 <= bit < 112:  # chunk size field: out of range is a FormatError
            expected = crypto.CryptoError
        else:
            expected = crypto.DecryptionError
        with pytest.raises(expected):
            dec(flip(blob, bit))


def test_every_truncation_fails() -> None:
    blob = enc(bytes(range(24)))
    for length in range(len(blob)):
        expected = crypto.FormatError if length < 2 else crypto.DecryptionError
        with pytest.raises(expected):
            dec(blob[:length])


@settings(max_examples=25)
@given(extra=st.binary(min_size=1, max_size=64))
def test_appended_bytes_fail(extra: bytes) -> None:
    with pytest.raises(crypto.DecryptionError):
        dec(enc(bytes(20)) + extra)


def test_reordered_chunks_fail() -> None:
    head, parts = chunks(enc(bytes(range(30))), 8)
    parts[0], parts[1] = parts[1], parts[0]
    with pytest.raises(crypto.DecryptionError):
        dec(head + b"".join(parts))


@pytest.mark.parametrize("size", [20, 24])
def test_dropped_chunks_fail(size: int) -> None:
    head, parts = chunks(enc(bytes(range(size))), 8)
    for index in range(len(parts)):
        with pytest.raises(crypto.DecryptionError):
            dec(head + b"".join(parts[:index] + parts[index + 1 :]))


def test_dropped_empty_final_chunk_fails() -> None:
    blob = enc(bytes(16))  # two full chunks and an empty final one (just a tag)
    assert len(chunks(blob, 8)[1][-1]) == TAG_SIZE
    with pytest.raises(crypto.DecryptionError):
        dec(blob[:-TAG_SIZE])


def test_chunks_spliced_from_another_file_fail() -> None:
    head, parts = chunks(enc(b"A" * 24), 8)
    other_head, other_parts = chunks(enc(b"B" * 24), 8)
    for index in range(len(parts)):
        spliced = [*parts[:index], other_parts[index], *parts[index + 1 :]]
        with pytest.raises(crypto.DecryptionError):
            dec(head + b"".join(spliced))
    with pytest.raises(crypto.DecryptionError):
        dec(other_head + b"".join(parts))


def test_wrong_context_or_key_fails() -> None:
    blob = enc(b"attachment")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_bytes_stream(KEY, blob, purpose="report", record_id="case-0001/att-1")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_bytes_stream(KEY, blob, purpose="attachment", record_id="case-0001/att-2")
    with pytest.raises(crypto.DecryptionError):
        dec(blob, key=crypto.random_key())


def test_iterator_stops_at_tampering() -> None:
    blob = flip(enc(bytes(40)), (HEADER_SIZE + 2 * (8 + TAG_SIZE)) * 8)  # third chunk
    received: list[bytes] = []
    with pytest.raises(crypto.DecryptionError, match="chunk 2"):
        drain(crypto.iter_decrypt_stream(KEY, io.BytesIO(blob), **CTX), received)
    assert received == [bytes(8), bytes(8)]


def test_iterator_withholds_final_chunk_if_data_follows() -> None:
    received: list[bytes] = []
    with pytest.raises(crypto.DecryptionError, match="chunk 1"):
        drain(crypto.iter_decrypt_stream(KEY, io.BytesIO(enc(bytes(12)) + b"x"), **CTX), received)
    assert received == [bytes(8)]


@pytest.mark.parametrize("chunk_size", [0, MAX_CHUNK_SIZE + 1])
def test_chunk_size_bounds(chunk_size: int) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        enc(b"x", chunk_size=chunk_size)
    blob = bytearray(enc(b"x"))
    blob[10:14] = chunk_size.to_bytes(4, "big")
    with pytest.raises(crypto.FormatError, match="chunk size"):
        dec(bytes(blob))


def test_reads_at_most_one_chunk_at_a_time() -> None:
    source = Zeros(1_000_000)
    blob = io.BytesIO()
    crypto.encrypt_stream(KEY, source, blob, chunk_size=4096, **CTX)
    assert source.max_read == 4096

    class Recorder(io.BytesIO):
        max_read = 0

        def read(self, size: int | None = -1) -> bytes:
            assert size is not None, "never read the whole input"
            assert size >= 0, "never read the whole input"
            self.max_read = max(self.max_read, size)
            return super().read(size)

    recorder = Recorder(blob.getvalue())
    assert crypto.decrypt_stream(KEY, recorder, Sink(), **CTX) == 1_000_000
    assert recorder.max_read == 4096 + TAG_SIZE


def test_memory_stays_bounded_for_20_mib(tmp_path: Path) -> None:
    size = 20 * 1024 * 1024
    path = tmp_path / "enc"
    tracemalloc.start()
    try:
        with path.open("wb") as out:
            crypto.encrypt_stream(KEY, Zeros(size), out, **CTX)
        _, encrypt_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sink = Sink()
        with path.open("rb") as src:
            crypto.decrypt_stream(KEY, src, sink, **CTX)
        _, decrypt_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.written == size
    # The default chunk is 64 KiB: a few chunks in flight at most, never the file.
    assert encrypt_peak < 1024 * 1024
    assert decrypt_peak < 1024 * 1024
