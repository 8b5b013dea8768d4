"""A job for bench/worker_bench.py: records when it started, in Redis, keyed by its outbox entry."""

from __future__ import annotations

import time

from redis import Redis
from sqlalchemy.orm import Session

from workers import job
from workers.jobs import JobContext


@job("bench_started")
def bench_started(session: Session, context: JobContext, n: int) -> None:
    url = context.config.redis_url
    if url:
        client = Redis.from_url(url)
        client.set(f"komma-bench:started:{context.entry_id}", repr(time.time()), ex=3600)
        client.close()
    else:
        session.info.setdefault("bench_started", {})[context.entry_id] = time.time()
