"""The work horse's heartbeat: a key in Redis that lives as long as a horse runs the job.

RQ's heartbeats come from the worker's main process, and the job of a worker killed as a whole
stays "started" until RQ's registries expire it, many minutes later. The horse beats for itself,
so the relay can tell within seconds whether anyone still runs a started job, and leaves the job
alone while a horse does: also when the worker's main process died and the horse lives on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from redis import Redis
from redis.exceptions import RedisError

# A beat every BEAT_SECONDS; HORSE_TTL seconds without one and the horse counts as dead. Several
# beats fit in between, so a slow answer from Redis or a busy horse is not taken for a dead one.
BEAT_SECONDS = 2.0
HORSE_TTL = 10


def horse_key(job_id: str) -> str:
    return f"komma:horse:{job_id}"


def horse_alive(connection: Redis, job_id: str) -> bool:
    """Whether a work horse has beaten for this RQ job within the last HORSE_TTL seconds."""
    return bool(connection.exists(horse_key(job_id)))


@contextmanager
def horse_heartbeat(connection: Redis, job_id: str) -> Iterator[None]:
    """Beat for the job while the block runs: once now, then from a thread every BEAT_SECONDS.

    `connection` is the heartbeat's own (short timeouts). The key is left to expire rather than
    deleted at the end: the horse of an earlier run, ending late, must not delete the beat of a
    horse that runs the job again.
    """
    key = horse_key(job_id)
    stopped = threading.Event()

    def beat() -> None:
        # Redis away: a later beat sets the key again once it answers.
        with suppress(RedisError):
            connection.set(key, 1, ex=HORSE_TTL)

    def keep_beating() -> None:
        while not stopped.wait(BEAT_SECONDS):
            beat()

    beat()
    thread = threading.Thread(target=keep_beating, name="komma-horse-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=BEAT_SECONDS)
