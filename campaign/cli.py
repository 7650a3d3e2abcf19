"""``flask --app bot campaign check [--json] [--file PATH]``: the values a proposing unit still has
to fill in and those that contradict the programme's rules; exit 1 when any."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from bot.cli import emit, json_option
from campaign import service

campaign_cli = AppGroup("campaign", help="The proposing unit's campaign settings (programs.yaml campaign:).")


def _value(value) -> str:
    if isinstance(value, dict):
        value = "; ".join(f"{k}: {_value(v)}" for k, v in value.items() if v)
    elif isinstance(value, list):
        value = "; ".join(_value(v) for v in value)
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


@campaign_cli.command("check")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False),
              help="check this programmes file instead of PROGRAMS_FILE")
@json_option
def check(path: str | None, as_json: bool) -> None:
    """List the campaign values still at their demo values, those left empty, and those that
    contradict the programme rules; exit 1 when any."""
    config = {**current_app.config, "PROGRAMS_FILE": path} if path else current_app.config
    reports = service.check(config)
    ok = bool(reports) and all(report.ok for report in reports)
    lines = []
    if not reports:
        lines.append(f"No programme with letters of intent (campaign.letter_of_intent) in {config.get('PROGRAMS_FILE')}.")
    for report in reports:
        lines.append(f"{report.program_id} ({report.name}): "
                     + ("ready." if report.ok else f"{len(report.demo)} demo value(s), {len(report.missing)} "
                        f"missing, {len(report.conflicts)} against the programme rules."))
        lines += [f"  demo      {f.key:26} {f.label}: {_value(f.value)}" for f in report.demo]
        lines += [f"  missing   {f.key:26} {f.label}" for f in report.missing]
        lines += [f"  conflict  {f.key:26} {f.label}: {f.message}" for f in report.conflicts]
    if not ok and reports:
        lines.append("Fill these in under campaign: in the programmes file, delete each filled key from "
                     "`demo:`, and run this again (README: Setup for a proposing unit).")
    emit(as_json, {"ok": ok, "file": str(config.get("PROGRAMS_FILE")),
                   "programs": [report.as_dict() for report in reports]}, "\n".join(lines))
    if not ok:
        sys.exit(1)
