"""``flask --app bot checkpoints [--program ID] [--json] [--as-of WHEN]`` and
``flask --app bot export evidence --checkpoint N --out DIR``."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from bot.cli import emit, json_option
from bot.db import utc_now
from bot.timeutil import TAIPEI


def parse_when(value: str | None) -> datetime | None:
    """ISO 8601 or a ROC date ('112/07/15', '112/07/15 17:00'); Asia/Taipei unless it says."""
    if not value:
        return None
    from checkpoints.settings import parse_programme_datetime

    text = value.strip()
    try:
        if "-" in text:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return (moment if moment.tzinfo else moment.replace(tzinfo=TAIPEI)).astimezone(timezone.utc)
        return parse_programme_datetime(text)
    except ValueError as error:
        raise click.BadParameter(f"not a date: {value} (use 2023-07-15T17:00 or 112/07/15 17:00)") from error


def _programme(program_id: str | None):
    from checkpoints.settings import programmes

    found = programmes(current_app.config)
    program_id = program_id or "gonghao-2023"
    if program_id not in found:
        raise click.BadParameter(f"unknown programme {program_id}; known: {', '.join(sorted(found))}",
                                 param_hint="--program")
    return found[program_id]


STATUS_WORDS = {"done": "done", "on_track": "on track", "behind": "BEHIND", "not_tracked": "not tracked yet"}


@click.command("checkpoints")
@click.option("--program", "program_id", default=None, help="programme id (default gonghao-2023)")
@click.option("--as-of", "as_of", default=None, help="count as of this moment (default now)")
@json_option
@with_appcontext
def checkpoints_command(program_id: str | None, as_of: str | None, as_json: bool) -> None:
    """The checkpoint KPIs: per KPI its target, what is done, what is due by the next checkpoint."""
    from checkpoints import service

    program = _programme(program_id)
    with current_app.extensions["bot"].database.read_session() as session:
        payload = service.report(session, program=program, as_of=parse_when(as_of))
    upcoming = payload["next_checkpoint"]
    lines = [f"{program.name}: " + (f"checkpoint {upcoming['number']} on {upcoming['at_roc']} "
                                      f"({upcoming['days_left']} days left)" if upcoming else "all checkpoints passed")]
    for kpi in payload["kpis"]:
        done = "—" if kpi["done"] is None else kpi["done"]
        lines.append(f"  {kpi['label']}: {done} / {kpi['target']} {kpi['unit']}, due {kpi['due']} "
                     f"— {STATUS_WORDS[kpi['status']]}")
    behind = [row for row in payload.get("companies", []) if row["missing"]]
    lines.append(f"  {len(behind)} of {len(payload.get('companies', []))} companies still miss something "
                 "(--json lists them).")
    emit(as_json, payload, "\n".join(lines))


@click.command("evidence")
@click.option("--checkpoint", "number", type=int, required=True, help="checkpoint number (programs.yaml)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="folder for the zip")
@click.option("--program", "program_id", default=None, help="programme id (default gonghao-2023)")
@click.option("--as-of", "as_of", default=None, help="figures as of (default: now, at most the checkpoint)")
@json_option
@with_appcontext
def export_evidence(number: int, out_dir: str, program_id: str | None, as_of: str | None, as_json: bool) -> None:
    """The evidence pack for checkpoint N as one zip: KPI table, company list (letter, adoption,
    usage), visit records with photos, usage records, letters' PDFs, replacements."""
    from checkpoints import evidence

    program = _programme(program_id)
    checkpoint = program.checkpoint(number)
    if checkpoint is None:
        known = ", ".join(str(c.number) for c in program.checkpoints)
        raise click.BadParameter(f"no checkpoint {number} in {program.id} (known: {known})", param_hint="--checkpoint")
    moment = parse_when(as_of) or min(utc_now(), checkpoint.at)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    summary = evidence.export_to_folder(current_app.extensions["bot"].database, folder, program=program,
                                        checkpoint=checkpoint, as_of=moment, config=current_app.config,
                                        actor="cli")
    counts = ", ".join(f"{key} {value}" for key, value in summary.counts.items())
    emit(as_json, summary.as_dict(), f"Wrote {summary.path} ({len(summary.files)} files: {counts}).")


def init_cli(app) -> None:
    from visits.cli import export_group

    app.cli.add_command(checkpoints_command)
    group = export_group(app)
    if "evidence" not in group.commands:
        group.add_command(export_evidence)
