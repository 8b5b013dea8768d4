"""Commands on the app's CLI: `komma worker`, `komma cron`, `komma outbox relay`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from redis.exceptions import RedisError

from core.app import current_flask_app
from workers.relay import relay_pending
from workers.schedule import schedule_of
from workers.worker import NoRedisError, RedisGoneError, run_cron, run_worker


def _app() -> Flask:
    return current_flask_app()


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option(
    "--jobs-module",
    "jobs_modules",
    multiple=True,
    metavar="MODULE",
    help="Also import MODULE for the jobs it registers (repeatable).",
)
@with_appcontext
def worker_command(burst: bool, jobs_modules: tuple[str, ...]) -> None:
    """Run jobs from the "komma" queue (needs KOMMA_REDIS_URL); waits out Redis outages."""
    try:
        run_worker(_app(), burst=burst, jobs_modules=jobs_modules)
    except (NoRedisError, RedisGoneError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command("cron")
@with_appcontext
def cron_command() -> None:
    """Enqueue scheduled work (relay, deadlines, purges); run one per installation; waits out Redis outages."""
    try:
        run_cron(_app())
    except NoRedisError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("outbox")
def outbox_group() -> None:
    """The job outbox."""


@outbox_group.command("relay")
@click.option(
    "--older-than",
    default=30,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seconds since dispatch before a row counts as lost.",
)
@with_appcontext
def relay_command(older_than: int) -> None:
    """Re-send outbox rows whose dispatch got lost; prints how many."""
    try:
        click.echo(relay_pending(_app(), older_than_seconds=older_than))
    except RedisError as exc:
        raise click.ClickException(f"Redis is unreachable ({type(exc).__name__}); nothing was sent") from None


@click.group("jobs")
def jobs_group() -> None:
    """Scheduled jobs, run once by hand or by the system's cron where no Redis is used."""


@jobs_group.command("run")
@click.argument("name")
@with_appcontext
def jobs_run(name: str) -> None:
    """Run one scheduled job (deadlines, retention, audit, housekeeping, statistics, relay) now, in this process."""
    named = {item.name: item for item in schedule_of(_app())}
    if name not in named:
        raise click.BadParameter(f"one of {', '.join(sorted(named))}", param_hint="NAME")
    click.echo(f"{name}: {named[name].func()}")


def register_commands(app: Flask) -> None:
    for command in (worker_command, cron_command, outbox_group, jobs_group):
        app.cli.add_command(command)
