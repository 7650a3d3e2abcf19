"""抽換 on the dashboard: GET /staff/replacements (the 50 % rule's figures, past replacements, the
form) and POST /staff/replacements (company, reason, successor; checked before anything changes)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from letters.document import campaign_settings
from letters.service import summary
from companies.models import Company
from replacements import service
from scheduler.settings import default_schedule
from staff.auth import current_actor, require_staff
from staff.routes import _globals

bp = Blueprint("replacements", __name__, url_prefix="/staff", template_folder="templates")
bp.context_processor(_globals)

PROGRAM = "gonghao-2023"


def _page(session, *, error: str | None = None, form: dict | None = None, done: str | None = None):
    program_id = request.args.get("program") or PROGRAM
    figures = summary(session, program_id=program_id, campaign=campaign_settings(current_app.config, program_id))
    return render_template("replacements/replacements.html", figures=figures["replacements"],
                           rows=service.replacements(session, program_id=program_id),
                           companies=service.active_companies(session, program_id=program_id),
                           reasons=service.REASONS, error=error, form=form or {}, done=done,
                           selected=request.args.get("company", ""))


@bp.get("/replacements")
@require_staff
def page():
    with current_app.extensions["bot"].database.read_session() as session:
        return _page(session, done=request.args.get("done"))


def _int(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


@bp.post("/replacements")
@require_staff
def create():
    from replacements.flows import error_text

    form = {key: (request.form.get(key) or "").strip() for key in ("company_id", "reason", "other_reason", "successor_id")}
    reason = form["other_reason"] if form["reason"] in ("", "other") else form["reason"]
    company_id = _int(form["company_id"])
    runtime = current_app.extensions["bot"]
    try:
        with runtime.database.write_session() as session:
            company = session.get(Company, company_id) if company_id else None
            program_id = company.program_id if company else PROGRAM
            row, _ = service.replace_company(
                session, company_id=company_id or 0, reason=reason, successor_id=_int(form["successor_id"]),
                actor=current_actor(), campaign=campaign_settings(current_app.config, program_id),
                schedule=default_schedule(current_app.config, program_id))
            row_id = row.id
    except service.ReplacementError as error:
        with runtime.database.read_session() as session:
            return _page(session, error=error_text(error), form=form), 422
    runtime.sender.deliver_due(limit=20)
    return redirect(url_for("replacements.page", done=row_id))
