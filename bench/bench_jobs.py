"""A job for bench/worker_bench.py: records when it started, in Redis, keyed by its outbox entry."""

from __future__ import annotations

import time

from flask import current_app
from redis import Redis
from sqlalchemy.orm import Session

from workers import job
from workers.jobs import ENTRY_ID_KEY


@job("bench_started")
def bench_started(session: Session, n: int) -> None:
    url = current_app.extensions["komma"].config.redis_url
    if url:
        client = Redis.from_url(url)
        client.set(f"komma-bench:started:{session.info[ENTRY_ID_KEY]}", repr(time.time()), ex=3600)
        client.close()
    else:
        session.info.setdefault("bench_started", {})[session.info[ENTRY_ID_KEY]] = time.time()
