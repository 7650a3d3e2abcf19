"""Personal data (seed 002 捌 個人資料蒐集與利用聲明; 個資法 第3條): 「我的資料」 summary and export,
correction, stop/resume processing, erasure, and the staff view of a person.

Other domains declare how their tables hold personal data with
``privacy.registry.register_personal_data`` (see its docstring); undeclared tables get a safe
generic rule from their column names."""
from __future__ import annotations

import logging
import threading
import time

import click
from flask.cli import AppGroup

log = logging.getLogger(__name__)

FINALISE_EVERY_SECONDS = 2.0


def init_app(app) -> None:
    from privacy.routes import bp
    from privacy.rules import register_known_tables

    register_known_tables()
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    if "privacy" not in app.cli.commands:
        app.cli.add_command(privacy_cli)
    runtime = app.extensions.get("bot")
    if runtime is not None and hasattr(runtime, "background"):
        runtime.background.append(lambda: _start_finaliser(runtime))


def finalise(database) -> int:
    """Finish erasures whose confirmation reply has been sent (see privacy.models)."""
    import sqlalchemy as sa

    from privacy.erasure import finalise_pending
    from privacy.models import PrivacyErasure

    # Cheap check first, as a plain read: every process runs this every 2 s, and on SQLite
    # ``database.session()`` is a write transaction that queued for the one write lock (and
    # held back webhook acks) just to count nothing.
    with database.engine.connect() as connection:
        waiting = connection.execute(sa.select(sa.func.count()).select_from(PrivacyErasure)
                                     .where(PrivacyErasure.finalised_at.is_(None))).scalar_one()
    if not waiting:
        return 0
    with database.write_session() as session:
        done = finalise_pending(session)
    if done:
        forget_old_versions(database)
    return done


def forget_old_versions(database) -> None:
    """After an erasure is final: SQLite keeps earlier versions of changed rows in its write-ahead
    log until a checkpoint, so the erased phone, e-mail and LINE id would stay readable in the
    -wal file (and in the spool's, bot.spool). Checkpoint and truncate both; a reader holding an
    old snapshot makes a checkpoint wait (busy_timeout) or report busy: tried three times."""
    from bot.spool import EventSpool, spool_path

    files = [database]
    if database.file:
        files.append(EventSpool(spool_path(database.file)))
    for item in files:
        for _ in range(3):
            if item.truncate_wal():
                break
            time.sleep(0.2)
        else:
            log.warning("could not truncate a write-ahead log after an erasure")


def _start_finaliser(runtime) -> None:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(FINALISE_EVERY_SECONDS):
            try:
                finalise(runtime.database)
            except Exception as error:  # the database may be away: try again next time
                log.warning("privacy finaliser failed", extra={"error": type(error).__name__})

    thread = threading.Thread(target=loop, name="privacy-finaliser", daemon=True)
    thread.start()


privacy_cli = AppGroup("privacy", help="Personal data: erase a person, finish pending erasures, export.")


@privacy_cli.command("finalise")
def finalise_command() -> None:
    from flask import current_app

    click.echo(f"finalised {finalise(current_app.extensions['bot'].database)}")


@privacy_cli.command("erase")
@click.argument("line_user_id")
@click.option("--yes", is_flag=True, help="Confirm: this cannot be undone.")
def erase_command(line_user_id: str, yes: bool) -> None:
    """Erase a person on a written request (002 捌 六: 書面或電子郵件)."""
    from flask import current_app

    from privacy.erasure import erase_person

    if not yes:
        raise click.UsageError("add --yes to confirm (erasure cannot be undone)")
    database = current_app.extensions["bot"].database
    with database.write_session() as session:
        result = erase_person(session, line_user_id=line_user_id, config=current_app.config, actor="cli")
    finalise(database)
    click.echo(f"erased: {result.found}; tables: {sorted(result.tables)}; retained: {result.retained}")


@privacy_cli.command("export")
@click.argument("line_user_id")
def export_command(line_user_id: str) -> None:
    """Print one person's data as JSON (for a written request); audited."""
    from flask import current_app

    from bot.services import audit
    from privacy.service import export_json

    with current_app.extensions["bot"].database.write_session() as session:
        click.echo(export_json(session, line_user_id=line_user_id))
        audit(session, actor="cli", action="privacy_staff_viewed", target=line_user_id)
