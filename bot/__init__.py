"""The LINE assistant's Flask application factory (``flask --app bot …``)."""
from __future__ import annotations

import functools
import importlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from linebot.v3 import WebhookParser

from bot import config as config_module
from bot.db import Database
from bot.dispatcher import Dispatcher
from bot.events import EventInbox, EventWorker, spool_events, store_events
from bot.gateway import LineGateway
from bot.http import RowIdConverter
from bot.outbox import OutboxSender
from bot.services import Services
from bot.spool import EventSpool, spool_path

log = logging.getLogger(__name__)

# Domains that plug into the app through their package's ``init_app(app)`` (blueprints, CLI
# commands, service providers). Listed once here; a domain not yet present is skipped.
DOMAINS = ("companies", "eligibility", "knowledge", "letters", "visits", "broadcasts", "scheduler", "staff",
           "privacy", "campaign", "adoption", "replacements", "checkpoints", "activities", "assessments", "checkup",
           "kpis")


@dataclass
class BotRuntime:
    """Everything one process shares: reachable as ``app.extensions["bot"]``."""

    database: Database
    gateway: LineGateway
    parser: WebhookParser
    services: Services
    sender: OutboxSender
    dispatcher: Dispatcher
    worker: EventWorker
    inbox: EventInbox
    background: list[Any] = field(default_factory=list)
    started: bool = False
    # False when a separate worker process handles events (EVENT_PROCESSING=worker): the web
    # process then only stores and acks them.
    processes_events: bool = True

    def start_background(self) -> None:
        """Start event workers (and, when enabled, the in-process scheduler). Not for CLI runs."""
        if self.started:
            return
        self.started = True
        threading.Thread(target=self.services.warm_up, name="warm-up", daemon=True).start()
        if self.processes_events:
            self.sender.start()
            self.worker.start()
        for starter in self.background:
            starter()

    def stop_background(self) -> None:
        self.worker.stop()
        self.sender.stop()
        self.started = False

    def run_event_worker(self, *, poll_interval: float) -> None:
        """The worker process: process what the web processes store, until interrupted."""
        self.sender.start()
        try:
            self.worker.run_forever(poll_interval=poll_interval)
        finally:
            self.stop_background()


def _load_config(app: Flask, test_config: dict | None) -> None:
    app.config.update(config_module.DEFAULTS)
    ignore_environment = bool(test_config and test_config.get("IGNORE_ENVIRONMENT"))
    app.config.update(config_module.settings_from_environment({} if ignore_environment else None))
    if test_config:
        app.config.update(test_config)
    mode = config_module.resolve_mode(app.config)
    secret, token = app.config.get("LINE_CHANNEL_SECRET"), app.config.get("LINE_CHANNEL_ACCESS_TOKEN")
    if mode == "production":
        # Checked while BOT_ENV still holds what the operator set (BOT_ENV is set to the mode
        # below): the refusal says why this is production (BOT_ENV=production, or a LINE
        # variable with BOT_ENV unset).
        config_module.check_production(app.config)
        app.config["DEV_MODE"] = False
    else:
        if bool(secret) != bool(token):
            raise config_module.ConfigError(
                "development with one LINE variable set: set both LINE_CHANNEL_SECRET and "
                "LINE_CHANNEL_ACCESS_TOKEN (a real channel) or neither (the local emulator)")
        # Development without a channel: the local LINE emulator and the chat simulator (/dev/*).
        app.config["DEV_MODE"] = not secret
        if app.config["DEV_MODE"]:
            app.config["LINE_CHANNEL_SECRET"] = config_module.DEVELOPMENT_CHANNEL_SECRET
            app.config["LINE_CHANNEL_ACCESS_TOKEN"] = config_module.DEVELOPMENT_ACCESS_TOKEN
            # The local LINE emulator is mounted on this very app (see bot.devmode).
            emulator = app.config["PUBLIC_BASE_URL"] + "/dev/line-api"
            app.config["LINE_API_BASE_URL"] = app.config.get("LINE_API_BASE_URL") or emulator
            app.config["LINE_DATA_API_BASE_URL"] = app.config.get("LINE_DATA_API_BASE_URL") or emulator
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = config_module.development_secret_key(app.instance_path)
    app.config["BOT_ENV"] = mode
    app.config.setdefault("LINE_API_BASE_URL", None)
    app.config.setdefault("LINE_DATA_API_BASE_URL", None)
    app.config["LINE_API_BASE_URL"] = app.config["LINE_API_BASE_URL"] or "https://api.line.me"
    app.config["LINE_DATA_API_BASE_URL"] = app.config["LINE_DATA_API_BASE_URL"] or "https://api-data.line.me"


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions (staff pages), with the signer built once per key instead
    of on every request: Flask opens a session for every request, webhooks included."""

    def get_signing_serializer(self, app: Flask):
        key = app.secret_key
        cached = getattr(self, "_cached", None)
        if cached is None or cached[0] != key:
            cached = self._cached = (key, super().get_signing_serializer(app))
        return cached[1]


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["id"] = RowIdConverter  # before any blueprint adds its routes
    app.session_interface = _CookieSessions()
    _load_config(app, test_config)

    from bot import logging_setup, security

    logging_setup.init_app(app)
    security.init_app(app)

    database = Database(app.config["DATABASE_URL"])
    gateway = LineGateway(access_token=app.config["LINE_CHANNEL_ACCESS_TOKEN"],
                          api_base_url=app.config["LINE_API_BASE_URL"],
                          data_api_base_url=app.config["LINE_DATA_API_BASE_URL"],
                          timeout=app.config["LINE_HTTP_TIMEOUT"])
    services = Services(database=database, gateway=gateway, config=app.config)
    sender = OutboxSender(database=database, gateway=gateway, max_attempts=app.config["OUTBOX_MAX_ATTEMPTS"],
                          base_delay=app.config["RETRY_BASE_DELAY"])

    def pump_outbox() -> None:
        sender.recover_stuck()
        sender.deliver_due()

    dispatcher = Dispatcher(services=services, sender=sender)
    # On a SQLite file, acks that a worker process will handle go to the spool (bot.spool), so
    # web and worker never queue on each other's write lock; whoever processes copies it over.
    spool = EventSpool(spool_path(database.file)) if database.file else None
    processes_events = app.config["EVENT_PROCESSING"] != "worker"
    worker = EventWorker(database=database, process=dispatcher.process, process_fresh=dispatcher.process_fresh,
                         batch_size=app.config["EVENT_BATCH_SIZE"], pump_outbox=pump_outbox,
                         threads=app.config["EVENT_WORKER_THREADS"], lease_seconds=app.config["EVENT_LEASE_SECONDS"],
                         on_idle=sender.flush_marks, spool=spool)
    if spool is not None and not processes_events:
        inbox = EventInbox(functools.partial(spool_events, spool))
    else:
        inbox = EventInbox(functools.partial(store_events, database))
    app.extensions["bot"] = BotRuntime(
        database=database, gateway=gateway, parser=WebhookParser(app.config["LINE_CHANNEL_SECRET"]),
        services=services, sender=sender, dispatcher=dispatcher, worker=worker, inbox=inbox,
        processes_events=processes_events)

    from bot import cli, health, pages, webhook

    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    cli.init_app(app)

    for domain in DOMAINS:
        try:
            module = importlib.import_module(domain)
        except ModuleNotFoundError as error:
            if error.name != domain:
                raise
            continue
        if hasattr(module, "init_app"):
            module.init_app(app)

    if app.config["DEV_MODE"]:
        from bot.devmode import init_app as init_devmode

        init_devmode(app)
    return app
