"""Measures what queueing a job adds to a request's commit, inline and (if reachable) with Redis.

Baseline: a transaction that writes one outbox row without dispatching it (what any small write
costs). Against it, in the same run and on the same SQLite file: add_job("noop") with the
inline dispatcher (the job runs in its own transaction after commit), and add_job with Redis
(enqueue plus the dispatched_at stamp; Redis at KOMMA_BENCH_REDIS_URL, default database 14).
Times are medians of several repetitions.
"""

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script, Python puts bench/ on the path, not the checkout that holds the packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from core import create_app
from core.config import Config
from core.db import new_id, session_scope, utcnow
from core.migrate import upgrade_database
from crypto import TEST_ARGON2
from workers import add_job
from workers.dispatch import QUEUE_NAME
from workers.models import OutboxEntry

REPETITIONS = 200


def median_seconds(action: Callable[[], object], repetitions: int = REPETITIONS) -> float:
    action()  # warm-up: first calls pay for imports and connections
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_app(folder: Path, redis_url: str | None):  # type: ignore[no-untyped-def]
    config = Config.from_env(
        {},
        database_url=f"sqlite:///{folder / 'bench.sqlite3'}",
        instance_path=folder / "instance",
        secret_key="bench-secret-key-" + "x" * 32,
        receipt_pepper=b"bench-pepper-" + b"y" * 32,
        argon2=TEST_ARGON2,
        redis_url=redis_url,
    )
    return create_app(config)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        upgrade_database(f"sqlite:///{folder / 'bench.sqlite3'}")
        inline = make_app(folder, None)
        factory = inline.extensions["komma"].session_factory

        def plain_write() -> None:
            with session_scope(factory) as session:
                session.add(OutboxEntry(id=new_id(), job="noop", args={}, created_at=utcnow(), attempts=0))

        def queue_inline() -> None:
            with session_scope(factory) as session:
                add_job(session, "noop")

        base = median_seconds(plain_write)
        inline_time = median_seconds(queue_inline)
        print(f"commit of one row:            {base * 1e3:7.3f} ms")
        print(f"add_job + inline noop run:    {inline_time * 1e3:7.3f} ms  ({inline_time / base:.1f}x)")

        redis_url = os.environ.get("KOMMA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
        probe = Redis.from_url(redis_url, socket_connect_timeout=1)
        try:
            probe.ping()
        except RedisError:
            print(f"add_job + RQ enqueue:         skipped (no Redis at {redis_url})")
            return
        finally:
            probe.close()
        queued = make_app(folder, redis_url)
        queued_factory = queued.extensions["komma"].session_factory

        def queue_redis() -> None:
            with session_scope(queued_factory) as session:
                add_job(session, "noop")

        redis_time = median_seconds(queue_redis)
        print(f"add_job + RQ enqueue:         {redis_time * 1e3:7.3f} ms  ({redis_time / base:.1f}x)")
        # The queued jobs never run: drop them and their hashes.
        Queue(QUEUE_NAME, connection=queued.extensions["komma_jobs"].redis).empty()
        queued.extensions["komma_jobs"].close()


if __name__ == "__main__":
    main()
