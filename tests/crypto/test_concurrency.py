"""Argon2id under concurrency: 8 derivations at once, in threads and in processes, under a deadline.

With cryptography 50.0.2 two multi-lane derivations in two threads of one process never return;
a web process derives for receipts, logins and key unwrapping from many threads at once. Each
run happens in daemon threads or a process pool and is judged by a deadline, so a regression
fails here instead of hanging the suite.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor, wait

import pytest

import crypto
from crypto.passwords import argon2id_derive

CONCURRENT = 8
# Eight production derivations take ~2 s on two cores; the deadline leaves room for a noisy
# machine while still failing fast where a hang would last forever.
DEADLINE = 60.0
SALT = bytes(range(16))


def _derive(params: crypto.Argon2Params, index: int) -> bytes:
    return argon2id_derive(f"passwort-{index}".encode(), SALT, params)


def _derive_in_threads(params: crypto.Argon2Params) -> dict[int, bytes]:
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(CONCURRENT)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = _derive(params, index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + DEADLINE
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    hung = sum(thread.is_alive() for thread in threads)
    assert hung == 0, f"{hung} of {CONCURRENT} derivations did not return within {DEADLINE} s"
    assert not errors, errors
    return results


@pytest.mark.parametrize(
    "params",
    [crypto.PRODUCTION_ARGON2, crypto.LEGACY_PRODUCTION_ARGON2],
    ids=["production", "legacy-four-lanes"],
)
def test_eight_derivations_in_threads_all_return(params: crypto.Argon2Params) -> None:
    results = _derive_in_threads(params)
    assert len(results) == CONCURRENT
    # Concurrency changes nothing in the outcome: each equals the same derivation run alone.
    assert results[3] == _derive(params, 3)
    assert len(set(results.values())) == CONCURRENT


def test_single_and_multi_lane_derivations_mixed_in_threads() -> None:
    results: dict[str, bytes] = {}

    def run(name: str, params: crypto.Argon2Params) -> None:
        results[name] = _derive(params, 0)

    threads = [
        threading.Thread(
            target=run,
            args=(f"{i}", crypto.LEGACY_PRODUCTION_ARGON2 if i % 2 else crypto.PRODUCTION_ARGON2),
            daemon=True,
        )
        for i in range(CONCURRENT)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert not any(thread.is_alive() for thread in threads)
    assert len(results) == CONCURRENT


@pytest.mark.parametrize(
    "params",
    [crypto.PRODUCTION_ARGON2, crypto.LEGACY_PRODUCTION_ARGON2],
    ids=["production", "legacy-four-lanes"],
)
def test_eight_derivations_in_processes_all_return(params: crypto.Argon2Params) -> None:
    # spawn: a fresh interpreter per worker, as gunicorn's and RQ's processes are to each other.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=CONCURRENT, mp_context=context) as pool:
        futures = [pool.submit(_derive, params, i) for i in range(CONCURRENT)]
        _done, pending = wait(futures, timeout=DEADLINE)
        assert not pending, f"{len(pending)} of {CONCURRENT} derivations did not return within {DEADLINE} s"
        results = [future.result() for future in futures]
    assert len(set(results)) == CONCURRENT
    assert results[5] == _derive(params, 5)
