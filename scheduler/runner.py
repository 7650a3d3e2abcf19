"""APScheduler wiring: ``flask --app bot scheduler run`` (its own process, the Procfile's
scheduler line) or in-process when SCHEDULER_ENABLED is true (single-process ``make run``).

All state lives in the database, so the job only has to run *often*; several schedulers at once
are safe because every tick claims rows atomically."""
from __future__ import annotations

import logging

from flask import Flask

from bot.timeutil import TAIPEI
from scheduler.scheduled import periodic_job

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_SECONDS = 60


def _add_tick_job(scheduler, app: Flask) -> None:
    from datetime import datetime

    interval = int(app.config.get("SCHEDULER_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS))
    scheduler.add_job(periodic_job, "interval", args=[app], seconds=interval, id="reminder_tick",
                      next_run_time=datetime.now(TAIPEI), coalesce=True, max_instances=1,
                      misfire_grace_time=interval, replace_existing=True)


def run_blocking(app: Flask) -> None:
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=TAIPEI)
    _add_tick_job(scheduler, app)
    log.info("scheduler process started")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass


def start_in_process(app: Flask):
    """A BackgroundScheduler in this (web) process; returns it so callers may shut it down."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone=TAIPEI, daemon=True)
    _add_tick_job(scheduler, app)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
    return scheduler
