"""HTTP: ``GET /api/ask`` (shared/CONTRACT.md) and the staff JSON endpoints for unanswered questions.

/api/ask with no ``q`` (or only whitespace) answers **400** ``{"error": "missing_q", ...}``: it is a
malformed request (a required query parameter is absent), not a body that failed validation
(422 is used for JSON bodies, e.g. /api/eligibility). ``program`` (optional) is a programme hint;
``role`` (optional: owner | staff | advisor, owner by default) is the asker's side, and the answer
says its ``audience``. An unknown role is a 400 too.
The API does not log unanswered questions: it has no one to send the answer to.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from bot.staff_auth import require_staff_token

from . import unanswered
from .query import ROLE_SIDES
from .service import KnowledgeBaseError

api = Blueprint("knowledge_api", __name__)
staff_bp = Blueprint("knowledge_staff", __name__, url_prefix="/staff")


def _runtime():
    return current_app.extensions["bot"]


@api.get("/api/ask")
def ask():
    question = request.args.get("q", "")
    if not question.strip():
        return jsonify({"error": "missing_q", "message": "query parameter q is required"}), 400
    hint = request.args.get("program") or None
    role = request.args.get("role") or "owner"
    if role not in ROLE_SIDES:
        return jsonify({"error": "bad_role", "message": f"role must be one of {', '.join(ROLE_SIDES)}"}), 400
    result = _runtime().services.kb.ask(question, program_hint=hint, role=role)
    return jsonify(result.to_api())


def _has_bearer() -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


@staff_bp.get("/unanswered")
def list_unanswered():
    """JSON for API clients (bearer STAFF_API_TOKEN). A browser without a bearer token is
    handed to the staff dashboard's page at the same address (staff.routes), if present."""
    if not _has_bearer() and "staff.unanswered" in current_app.view_functions:
        return current_app.view_functions["staff.unanswered"]()
    return _list_json()


@require_staff_token
def _list_json():
    status = request.args.get("status", "open")
    status = None if status == "all" else status
    with _runtime().database.session() as session:
        found = unanswered.list_questions(session, status=status)
        who = unanswered.askers(session, user_ids=[r.line_user_id for r in found])
        rows = [{**unanswered.as_dict(r), "asker": who.get(r.line_user_id or "")} for r in found]
    return jsonify({"questions": rows, "count": len(rows)})


@staff_bp.post("/unanswered/<id:question_id>/answer")
@require_staff_token
def answer_unanswered(question_id: int):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"errors": [{"field": "body", "message": "JSON object required"}]}), 422
    errors = []
    answer = body.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        errors.append({"field": "answer", "message": "non-empty string required"})
    add_to = body.get("add_to_entry")
    if add_to is not None and not isinstance(add_to, str):
        errors.append({"field": "add_to_entry", "message": "entry id string"})
    add_as_entry = bool(body.get("add_as_entry", False))
    program = body.get("program")
    answered_by = str(body.get("answered_by") or "staff-api")[:64]
    if errors:
        return jsonify({"errors": errors}), 422
    runtime = _runtime()
    kb = runtime.services.kb
    if add_to and kb.entry(add_to) is None:
        return jsonify({"errors": [{"field": "add_to_entry", "message": f"unknown entry {add_to}"}]}), 422
    try:
        with runtime.database.write_session() as session:
            if session.get(unanswered.UnansweredQuestion, question_id) is None:
                return jsonify({"error": "not_found"}), 404
            outcome = unanswered.answer_question(session, question_id=question_id, answer=answer,
                                                 answered_by=answered_by, kb=kb, add_to_entry=add_to,
                                                 add_as_entry=add_as_entry, program=program)
            payload = {"question": unanswered.as_dict(outcome.row), "pushed": outcome.pushed,
                       "added_to_entry": outcome.added_to}
    except unanswered.UnansweredError as exc:
        return jsonify({"errors": [{"field": "add_to_entry" if add_to else "answer", "message": str(exc)}]}), 422
    runtime.sender.deliver_due()
    return jsonify(payload)


@staff_bp.post("/kb/reload")
@require_staff_token
def reload_kb():
    kb = _runtime().services.kb
    try:
        report = kb.reload(strict=True)
    except KnowledgeBaseError as exc:
        return jsonify({"ok": False, "errors": exc.report.errors[:50], "serving": "previous index"}), 422
    return jsonify(report.as_dict())
