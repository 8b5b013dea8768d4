"""The project's scheduled work, run by RQ's cron (`komma cron`) on the "komma" queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rq.cron import CronScheduler

from workers import scheduled
from workers.dispatch import QUEUE_NAME
from workers.relay import relay_outbox


@dataclass(frozen=True)
class ScheduledJob:
    """A function without arguments run by a worker every `interval` seconds or on `cron`."""

    func: Callable[[], object]
    interval: int | None = None
    # Cron expressions are read in the cron process's local time (RQ's choice).
    cron: str | None = None
    # A relay pass is quick; a hung one must not hold a worker for RQ's default 180 s.
    timeout: int = 120


SCHEDULE: tuple[ScheduledJob, ...] = (
    # An interval job also runs once at start, so a restarted cron drains the outbox at once.
    # Every 30 s: a job lost with a killed worker is eligible 30 s after its dispatch at the
    # latest (its horse's beat expires after 10 s), so it is sent again within a minute.
    ScheduledJob(relay_outbox, interval=30),
    ScheduledJob(scheduled.deadline_scan, cron="5 * * * *", timeout=900),
    ScheduledJob(scheduled.housekeeping, cron="35 * * * *"),
    ScheduledJob(scheduled.statistics_refresh, cron="50 * * * *", timeout=1800),
    ScheduledJob(scheduled.retention_purge, cron="15 3 * * *", timeout=3600),
    ScheduledJob(scheduled.audit_check, cron="45 3 * * *", timeout=3600),
)


def register_schedule(scheduler: CronScheduler, schedule: tuple[ScheduledJob, ...] = SCHEDULE) -> None:
    for item in schedule:
        scheduler.register(
            item.func,
            queue_name=QUEUE_NAME,
            interval=item.interval,
            cron=item.cron,
            job_timeout=item.timeout,
        )
