"""Measures crypto/ against raw AES-256-GCM: a 1 KiB report, a 10 MiB attachment, Argon2id.

The report path is what submitting a report costs: a random case key, the case key sealed
(HPKE) to the office public key, the report in a secret box. The attachment path is
encrypt_stream over 10 MiB. Both are compared with one-shot AESGCM.encrypt of the same bytes
in the same run. The stream is timed into a sink that discards its output, so the ratio
measures the chunking itself; a second figure writes into BytesIO, which adds copying the
10 MiB that one-shot encryption never does. Last, one receipt-code derivation with
PRODUCTION_ARGON2. Times are medians of several repetitions.
"""

import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Run as a script, Python puts bench/ on the path, not the checkout that holds crypto/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import crypto

MIB = 1024 * 1024


class Discard:
    """A destination that drops what it gets."""

    def write(self, data: bytes) -> int:
        return len(data)


def median_seconds(action: Callable[[], object], repetitions: int) -> float:
    action()  # warm-up: first calls pay for imports and allocations
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    office = crypto.generate_keypair()
    report = os.urandom(1024)
    attachment = os.urandom(10 * MIB)
    key = crypto.random_key()
    aead = AESGCM(key)
    nonce = os.urandom(12)

    def submit_report() -> None:
        case_key = crypto.random_key()
        crypto.seal(office.public, case_key, purpose="case-key", record_id="case-1")
        crypto.box_encrypt(case_key, report, purpose="report", record_id="case-1")

    report_time = median_seconds(submit_report, 200)
    report_raw = median_seconds(lambda: aead.encrypt(nonce, report, None), 200)
    stream_raw = median_seconds(lambda: aead.encrypt(nonce, attachment, None), 15)
    stream_discard = median_seconds(
        lambda: crypto.encrypt_stream(key, io.BytesIO(attachment), Discard(), purpose="attachment", record_id="a"), 15
    )
    stream_bytesio = median_seconds(
        lambda: crypto.encrypt_stream(key, io.BytesIO(attachment), io.BytesIO(), purpose="attachment", record_id="a"),
        15,
    )
    params = crypto.PRODUCTION_ARGON2
    argon2 = median_seconds(
        lambda: crypto.derive_receipt_keys(
            crypto.generate_receipt_code(), salt=os.urandom(16), pepper=os.urandom(32), params=params
        ),
        5,
    )

    def mib_s(seconds: float) -> float:
        return 10 / seconds

    print(f"1 KiB report: seal case key + box_encrypt {report_time * 1e6:8.1f} us")
    print(f"1 KiB report: raw AES-256-GCM             {report_raw * 1e6:8.1f} us")
    print(f"10 MiB file: raw AES-256-GCM one-shot   {stream_raw * 1e3:6.2f} ms {mib_s(stream_raw):7.0f} MiB/s")
    print(
        f"10 MiB file: encrypt_stream -> discard  {stream_discard * 1e3:6.2f} ms "
        f"{mib_s(stream_discard):7.0f} MiB/s  ratio {stream_raw / stream_discard:.2f} "
        f"(chunk {crypto.DEFAULT_CHUNK_SIZE // 1024} KiB)"
    )
    print(
        f"10 MiB file: encrypt_stream -> BytesIO  {stream_bytesio * 1e3:6.2f} ms "
        f"{mib_s(stream_bytesio):7.0f} MiB/s  ratio {stream_raw / stream_bytesio:.2f} (includes copying output)"
    )
    print(
        f"Argon2id receipt derivation (m={params.memory_kib} KiB, t={params.iterations}, "
        f"p={params.lanes}): {argon2 * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
