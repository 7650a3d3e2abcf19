"""Checkpoints on the staff dashboard: GET /staff/checkpoints (the KPIs with progress bars, per
company and in total, who is behind), GET /staff/api/checkpoints (the same JSON as
``flask --app bot checkpoints --json``) and GET /staff/checkpoints/<n>/evidence.zip."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from bot.db import utc_now
from bot.timeutil import to_taipei
from checkpoints import service
from checkpoints.evidence import STATUS_LABELS, export_to_bytes, pack_name
from checkpoints.settings import programmes
from staff.auth import current_actor, require_staff
from staff.routes import _globals

bp = Blueprint("checkpoints", __name__, url_prefix="/staff", template_folder="templates")
bp.context_processor(_globals)  # the staff pages' navigation and login state


@bp.app_template_filter("num")
def _num(value) -> str:
    """12.0 -> '12', 12.5 -> '12.5', None -> '—'."""
    if value is None:
        return "—"
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def _database():
    return current_app.extensions["bot"].database


def _program():
    found = programmes(current_app.config)
    program_id = request.args.get("program") or "gonghao-2023"
    if program_id not in found:
        abort(404)
    return found[program_id]


@bp.get("/api/checkpoints")
@require_staff
def api():
    program = _program()
    with _database().read_session() as session:
        return jsonify(service.report(session, program=program))


@bp.get("/checkpoints")
@require_staff
def page():
    program = _program()
    with _database().read_session() as session:
        as_of = utc_now()
        lines = service.kpi_lines(session, program=program, as_of=as_of)
        rows = service.company_rows(session, program=program, as_of=as_of, lines=lines)
    columns = [line for line in lines if line.result is not None and line.result.per_company is not None]
    upcoming = program.next_checkpoint(as_of)
    return render_template("checkpoints/checkpoints.html", program=program, lines=lines, rows=rows,
                           columns=columns, upcoming=upcoming, as_of=as_of, labels=STATUS_LABELS,
                           days_left=(upcoming.day - to_taipei(as_of).date()).days if upcoming else None,
                           advisors=service.behind_by_advisor(rows),
                           behind=[row for row in rows if row["missing"]])


@bp.get("/checkpoints/<int:number>/evidence.zip")
@require_staff
def evidence(number: int):
    program = _program()
    checkpoint = program.checkpoint(number)
    if checkpoint is None:
        abort(404)
    as_of = min(utc_now(), checkpoint.at)
    data, _ = export_to_bytes(_database(), program=program, checkpoint=checkpoint, as_of=as_of,
                              config=current_app.config, actor=current_actor())
    name = pack_name(program, checkpoint, as_of)
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"})
