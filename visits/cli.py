"""``flask --app bot export visits --format csv|json`` (the 企業個案輔導紀錄 data)."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext


def export_group(app) -> click.Group:
    """The shared ``export`` group: reuse it when another domain made it first."""
    group = app.cli.commands.get("export")
    if not isinstance(group, click.Group):
        group = AppGroup("export", help="Export programme records (CSV for Excel, or JSON).")
        app.cli.add_command(group)
    return group


@click.command("visits")
@with_appcontext
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--program", "program_id", default=None, help="only this programme id")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None)
@click.option("--no-bom", is_flag=True, help="omit the UTF-8 BOM (Excel wants it; scripts may not)")
def export_visits_command(fmt: str, program_id: str | None, output: str | None, no_bom: bool) -> None:
    """Logged visits, one row each (company, advisor, date, mode, duration, topics, notes, photos)."""
    from visits import service

    database = current_app.extensions["bot"].database
    with database.session() as session:
        if fmt == "json":
            text = json.dumps({"visits": service.export_rows(session, program_id=program_id)},
                              ensure_ascii=False, default=str)
        else:
            text = service.visits_csv(session, bom=not no_bom, program_id=program_id)
    if output:
        with open(output, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        click.echo(f"Wrote {output}.", err=True)
    else:
        sys.stdout.write(text)


def init_cli(app) -> None:
    group = export_group(app)
    if "visits" not in group.commands:
        group.add_command(export_visits_command)
