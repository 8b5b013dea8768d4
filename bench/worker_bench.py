"""Jobs through the outbox, Redis and a real RQ worker, against the same jobs run inline, in one run.

For N jobs, each written with add_job in its own committed transaction (as a request would):
- inline: no Redis; the job runs in the committing process right after commit;
- queued: KOMMA_BENCH_REDIS_URL (default redis://127.0.0.1:6379/13) and one real `komma worker`
  process (RQ forks a work horse per job, which is most of its per-job cost).
Printed: jobs per second for each and their ratio, and the delay from commit to the job's start
(p50/p95) through Redis and an idle worker, one job at a time. The database is a temporary SQLite file unless
--database-url names a PostgreSQL database whose name contains "bench".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis import Redis
from sqlalchemy import func, select

from bench._common import BENCH_PEPPER, BENCH_SECRET_KEY, bench_config, migrated_database, ms, percentile
from core import create_app
from core.db import session_scope
from crypto import TEST_ARGON2
from workers import add_job
from workers.jobs import load_job_modules
from workers.models import OutboxEntry

ROOT = Path(__file__).resolve().parents[1]


def commit_jobs(app, count: int) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    """Write `count` jobs, one transaction each; returns (entry id, commit time)."""
    factory = app.extensions["komma"].session_factory
    committed = []
    for n in range(count):
        with session_scope(factory) as session:
            entry = add_job(session, "bench_started", n=n)
            entry_id = entry.id
        committed.append((entry_id, time.time()))
    return committed


def completed(app) -> int:  # type: ignore[no-untyped-def]
    with session_scope(app.extensions["komma"].session_factory) as session:
        return (
            session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.completed_at.is_not(None)))
            or 0
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--latency-jobs", type=int, default=40)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    redis_url = os.environ.get("KOMMA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    load_job_modules(["bench.bench_jobs"])
    with migrated_database(args.database_url) as db, tempfile.TemporaryDirectory() as folder:
        print(f"database: {db.label}; {args.jobs} jobs each way")
        inline_app = create_app(bench_config(db.url, Path(folder), argon2=TEST_ARGON2))
        start = time.perf_counter()
        commit_jobs(inline_app, args.jobs)
        inline_seconds = time.perf_counter() - start
        if completed(inline_app) != args.jobs:
            raise RuntimeError("not every inline job ran")
        inline_rate = args.jobs / inline_seconds
        print(f"inline:         {inline_rate:8.1f} jobs/s  ({ms(inline_seconds / args.jobs)} per commit + job)")

        redis = Redis.from_url(redis_url)
        redis.flushdb()
        queued_app = create_app(bench_config(db.url, Path(folder), argon2=TEST_ARGON2, redis_url=redis_url))
        env = {
            **os.environ,
            "KOMMA_DATABASE_URL": db.url,
            "KOMMA_REDIS_URL": redis_url,
            "KOMMA_INSTANCE_PATH": folder,
            "KOMMA_SECRET_KEY": BENCH_SECRET_KEY,
            "KOMMA_RECEIPT_PEPPER": BENCH_PEPPER.decode(),
        }
        worker = subprocess.Popen(
            [sys.executable, "-c", "from core.cli import main; main()", "worker", "--jobs-module", "bench.bench_jobs"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            time.sleep(2.0)  # the worker registers and starts polling
            before = completed(queued_app)
            start = time.perf_counter()
            commit_jobs(queued_app, args.jobs)
            deadline = time.time() + 600
            while completed(queued_app) < before + args.jobs and time.time() < deadline:
                time.sleep(0.05)
            queued_seconds = time.perf_counter() - start
            done = completed(queued_app) - before
            # Latency on an idle worker: one job at a time, as requests arrive in practice.
            delays = []
            for n in range(args.latency_jobs):
                before = completed(queued_app)
                ((entry_id, commit_time),) = commit_jobs(queued_app, 1)
                while completed(queued_app) <= before and time.time() < deadline:
                    time.sleep(0.005)
                started = redis.get(f"komma-bench:started:{entry_id}")
                if started is not None:
                    delays.append(float(started) - commit_time)
                del n
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
            redis.flushdb()
            queued_app.extensions["komma_jobs"].close()
        queued_rate = done / queued_seconds
        print(f"Redis + worker: {queued_rate:8.1f} jobs/s  ({done} of {args.jobs} done)")
        print(f"ratio queued/inline throughput: {queued_rate / inline_rate:.2f}")
        if delays:
            print(
                f"commit -> job start (idle worker, one job at a time): p50 {ms(percentile(delays, 50))}  p95 {ms(percentile(delays, 95))}  (n={len(delays)})"
            )


if __name__ == "__main__":
    main()
