"""``flask --app bot export activities --format csv`` (the sign-in sheets, 簽到表)."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("activities")
@with_appcontext
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--activity", "activity_id", type=int, default=None, help="only this activity (its #id)")
@click.option("--program", "program_id", default=None, help="only this programme id")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None)
@click.option("--no-bom", is_flag=True, help="omit the UTF-8 BOM (Excel wants it; scripts may not)")
def export_activities_command(fmt: str, activity_id: int | None, program_id: str | None, output: str | None,
                              no_bom: bool) -> None:
    """The sign-in sheets: one row per check-in (activity, company, 統編, name, time)."""
    from activities import service
    from activities.flows import settings_of
    from bot.spreadsheet import spreadsheet_csv

    with current_app.extensions["bot"].database.read_session() as session:
        rows = service.sign_in_rows(session, settings_of=settings_of(current_app.config), program_id=program_id,
                                    activity_ids=[activity_id] if activity_id else None)
    if fmt == "json":
        text = json.dumps({"sign_in": [dict(zip(service.SHEET_HEADER, row)) for row in rows]}, ensure_ascii=False)
    else:
        text = spreadsheet_csv(service.SHEET_HEADER, rows, bom=not no_bom)
    if output:
        with open(output, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        click.echo(f"Wrote {output} ({len(rows)} check-ins).", err=True)
    else:
        sys.stdout.write(text)


def init_cli(app) -> None:
    from visits.cli import export_group

    group = export_group(app)
    if "activities" not in group.commands:
        group.add_command(export_activities_command)
