"""Operator commands: ``flask --app bot letters verify`` and ``flask --app bot export companies``."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from bot.cli import emit, json_option
from bot.spreadsheet import spreadsheet_csv
from letters import service

letters_cli = AppGroup("letters", help="Letters of intent (企業合作意向書).")


@letters_cli.command("verify")
@json_option
def verify(as_json: bool) -> None:
    """Check every letter's hash chain, signed versions and attachments; exit 1 on tampering."""
    with current_app.extensions["bot"].database.session() as session:
        report = service.verify_all(session)
    lines = [f"{report['letters']} letters, {report['versions']} versions, {report['events']} events: "
             + ("all chains intact." if report["ok"] else f"{len(report['problems'])} letter(s) FAILED.")]
    for letter_id, problems in report["problems"].items():
        lines += [f"  letter {letter_id}: {problem}" for problem in problems]
    emit(as_json, report, "\n".join(lines))
    if not report["ok"]:
        sys.exit(1)


@click.command("companies")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--program", default="gonghao-2023", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="write to a file instead of stdout")
@with_appcontext
def export_companies(fmt: str, program: str, output: str | None) -> None:
    """The 預定輔導企業彙總表 (seed 002 附件一): one row per recruited business."""
    with current_app.extensions["bot"].database.session() as session:
        header, rows = service.companies_table(session, program_id=program, config=current_app.config)
    if fmt == "json":
        import json

        text = json.dumps([dict(zip(header, row)) for row in rows], ensure_ascii=False, indent=1) + "\n"
    else:
        text = spreadsheet_csv(header, rows)
    if output:
        with open(output, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        click.echo(f"Wrote {len(rows)} companies to {output}.", err=True)
    else:
        click.echo(text, nl=False)


def init_app(app) -> None:
    app.cli.add_command(letters_cli)
    # Other domains may add their own `export` subcommands: share one group.
    group = app.cli.commands.get("export")
    if group is None:
        group = AppGroup("export", help="Exports for the programme office (CSV).")
        app.cli.add_command(group)
    group.add_command(export_companies)
