"""Jobs: the outbox, its dispatch to RQ (or inline without Redis), the relay, worker and cron."""

from __future__ import annotations

from flask import Flask

from workers.dispatch import Dispatcher
from workers.jobs import job
from workers.outbox import add_job, dispatch_after_commit

__all__ = ["add_job", "init_app", "job"]


def init_app(app: Flask) -> None:
    """Dispatch the outbox after every commit of the app's sessions; add the job commands."""
    from workers.cli import register_commands

    dispatcher = Dispatcher(app)
    app.extensions["komma_jobs"] = dispatcher
    dispatch_after_commit(app.extensions["komma"].session_factory, dispatcher.send)
    register_commands(app)
