"""The installation's schedule, run by RQ's cron (`komma cron`) on the "komma" queue.

The relay is the workers' own; every other entry comes from a feature, wired in core/app.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import Flask
from rq.cron import CronScheduler

from workers.dispatch import QUEUE_NAME
from workers.relay import relay_outbox


@dataclass(frozen=True)
class ScheduledJob:
    """A function without arguments run by a worker every `interval` seconds or on `cron`.

    `name` is what `komma jobs run NAME` takes; the function must be importable by its module
    path (RQ's cron enqueues it by name).
    """

    name: str
    func: Callable[[], object]
    interval: int | None = None
    # Cron expressions are read in the cron process's local time (RQ's choice).
    cron: str | None = None
    # A relay pass is quick; a hung one must not hold a worker for RQ's default 180 s.
    timeout: int = 120


# An interval job also runs once at start, so a restarted cron drains the outbox at once.
# Every 30 s: a job lost with a killed worker is eligible 30 s after its dispatch at the
# latest (its horse's beat expires after 10 s), so it is sent again within a minute.
RELAY = ScheduledJob("relay", relay_outbox, interval=30)

EXTENSION_KEY = "komma_schedule"


def schedule_of(app: Flask) -> tuple[ScheduledJob, ...]:
    """The relay and the features' scheduled work of this app."""
    features: tuple[ScheduledJob, ...] = app.extensions.get(EXTENSION_KEY, ())
    return (RELAY, *features)


def set_schedule(app: Flask, schedule: Sequence[ScheduledJob]) -> None:
    app.extensions[EXTENSION_KEY] = tuple(schedule)


def register_schedule(scheduler: CronScheduler, schedule: Sequence[ScheduledJob]) -> None:
    for item in schedule:
        scheduler.register(
            item.func,
            queue_name=QUEUE_NAME,
            interval=item.interval,
            cron=item.cron,
            job_timeout=item.timeout,
        )
