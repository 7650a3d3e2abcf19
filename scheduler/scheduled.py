"""The periodic job: one tick (plan, claim, materialise, deliver), plus the outbox's retries."""
from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask

from scheduler.delivery import BatchDeliverer
from scheduler.service import TickReport, run_tick
from scheduler.settings import schedules_for

log = logging.getLogger(__name__)


def deliverer_provider(services) -> BatchDeliverer:
    config = services.config
    return BatchDeliverer(database=services.database, gateway=services.gateway,
                          max_attempts=config.get("OUTBOX_MAX_ATTEMPTS", 8),
                          base_delay=config.get("RETRY_BASE_DELAY", 0.5),
                          workers=config.get("SCHEDULER_SEND_THREADS", 8))


def tick(app: Flask, *, now: datetime | None = None, batch_size: int = 1000) -> TickReport:
    runtime = app.extensions["bot"]
    return run_tick(database=runtime.database, deliverer=runtime.services.get("reminder_deliverer"),
                    schedules=schedules_for(app.config), now=now, batch_size=batch_size)


def periodic_job(app: Flask) -> None:
    """What the scheduler process runs every interval. Never raises (APScheduler would log and
    carry on anyway, but a clean log line is easier to read)."""
    try:
        report = tick(app)
        runtime = app.extensions["bot"]
        runtime.sender.recover_stuck()
        runtime.sender.deliver_due()  # retries whose backoff has passed
        if report.claimed or report.held_quiet_hours:
            log.info("scheduler tick", extra={"tick": report.as_dict()})
    except Exception:
        log.exception("scheduler tick failed")
