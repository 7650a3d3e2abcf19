"""Reminders: programme milestones, consultation visits and visit-rule digests, sent exactly
once through the outbox at a decent hour. See scheduler/README section in the lead's README."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from bot.timeutil import TAIPEI


def parse_now(value: str) -> datetime:
    """ISO 8601; without an offset the time is Asia/Taipei (all business times are)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise click.BadParameter(f"not an ISO 8601 instant: {value}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TAIPEI)
    return moment.astimezone(timezone.utc)


@click.command("tick")
@with_appcontext
@click.option("--now", "now_text", default=None, help="ISO 8601 instant (default: the real clock)")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a summary")
def tick_command(now_text: str | None, as_json: bool) -> None:
    """Run one scheduler pass as if the clock read NOW (exactly once across repeats and restarts)."""
    from scheduler.scheduled import tick

    now = parse_now(now_text) if now_text else None
    report = tick(current_app._get_current_object(), now=now)
    payload = report.as_dict()
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    skipped = sum(report.skipped.values())
    line = (f"tick {report.now}: {report.claimed} due, {report.materialised} sent to the outbox, "
            f"{skipped} skipped, {report.messages_sent} messages delivered in {report.requests} requests")
    if report.held_quiet_hours:
        line = f"tick {report.now}: quiet hours, {report.held_quiet_hours} reminders held until morning"
    if report.dead:
        line += f", {report.dead} dead letters (GET /staff/outbox)"
    click.echo(line + f" ({report.seconds:.2f}s).")


scheduler_cli = AppGroup("scheduler", help="The reminder scheduler.")


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler process (APScheduler, a tick every SCHEDULER_INTERVAL_SECONDS)."""
    from scheduler.runner import run_blocking

    run_blocking(current_app._get_current_object())


def init_app(app: Flask) -> None:
    from scheduler import routes
    from scheduler.scheduled import deliverer_provider

    runtime = app.extensions["bot"]
    runtime.services.providers["reminder_deliverer"] = deliverer_provider
    app.cli.add_command(tick_command)
    app.cli.add_command(scheduler_cli)
    app.register_blueprint(routes.bp)
    if app.config.get("SCHEDULER_ENABLED"):
        from scheduler.runner import start_in_process

        def start_scheduler() -> None:
            start_in_process(app)

        runtime.background.append(start_scheduler)
