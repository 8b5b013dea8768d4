"""Jobs: the outbox, its dispatch to RQ (or inline without Redis), the relay, worker and cron."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask

from workers.dispatch import Dispatcher
from workers.jobs import job
from workers.outbox import add_job, dispatch_after_commit
from workers.schedule import ScheduledJob, set_schedule

__all__ = ["add_job", "init_app", "job"]


def init_app(app: Flask, *, schedule: Sequence[ScheduledJob] = ()) -> None:
    """Dispatch the outbox after every commit of the app's sessions; add the job commands and the schedule."""
    from workers.cli import register_commands

    dispatcher = Dispatcher(app)
    app.extensions["komma_jobs"] = dispatcher
    dispatch_after_commit(app.extensions["komma"].session_factory, dispatcher.send)
    set_schedule(app, schedule)
    register_commands(app)
