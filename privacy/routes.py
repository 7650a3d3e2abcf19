"""HTTP: the owner's export link, and the staff view of one person (by role, audited)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from bot.security import content_disposition
from bot.db import utc_now
from bot.services import audit
from bot.staff_auth import require_staff_token
from bot.texts import t
from bot.timeutil import format_roc_datetime
from privacy import document, service

bp = Blueprint("privacy", __name__, template_folder="templates")

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _runtime():
    return current_app.extensions["bot"]


@bp.get("/privacy/export/<token>.<fmt>")
def export(token: str, fmt: str):
    if fmt not in ("json", "csv", "html"):
        abort(404)
    database = _runtime().database
    with database.session() as session:
        try:
            user = service.read_export_token(session, current_app.config, token)
        except service.ExportLinkExpired:
            return Response("此下載連結已過期，請在 LINE 輸入「我的資料」重新取得。", status=410,
                            mimetype="text/plain", headers=NO_STORE)
        if user is None:
            abort(404)
        line_user_id = user.line_user_id
        programs = _runtime().services.programs
        if fmt == "json":
            body, mimetype = service.export_json(session, line_user_id=line_user_id), "application/json"
        elif fmt == "csv":
            body, mimetype = service.export_csv(session, line_user_id=line_user_id, programs=programs), "text/csv"
        else:
            body, mimetype = render_template(
                "privacy/my_data.html", sections=document.sections(session, line_user_id=line_user_id,
                                                                   programs=programs),
                at=format_roc_datetime(utc_now()), json_url=request.path.rsplit(".", 1)[0] + ".json", t=t), "text/html"
    # A separate write transaction: upgrading a SQLite read transaction to a write can fail.
    with database.write_session() as session:
        audit(session, actor=line_user_id, action="privacy_exported", format=fmt)
    # The page is read in the browser; the files are downloaded.
    disposition = "inline" if fmt == "html" else "attachment"
    headers = {**NO_STORE, "Content-Disposition": content_disposition(disposition, f"my-data.{fmt}")}
    return Response(body, mimetype=mimetype, headers=headers)


@bp.get("/staff/people/<line_user_id>")
@require_staff_token
def staff_person(line_user_id: str):
    """Everything held about one person, for answering a data-subject request. Every access is
    audited (who: the staff token; whom: the id; never the data itself)."""
    if not line_user_id.startswith("U") or len(line_user_id) > 64:
        abort(404)
    database = _runtime().database
    with database.session() as session:
        data = service.person_data(session, line_user_id=line_user_id)
    with database.write_session() as session:
        audit(session, actor="staff-token", action="privacy_staff_viewed", target=line_user_id,
              tables=sorted(data))
    if not data:
        return jsonify({"error": "not_found"}), 404
    response = jsonify({"line_user_id": line_user_id, "tables": data})
    response.headers.update(NO_STORE)
    return response
