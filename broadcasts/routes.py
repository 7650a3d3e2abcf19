"""JSON endpoints for broadcasts (bearer STAFF_API_TOKEN or a staff session): list, report, create."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, jsonify, request

from bot.http import int_arg
from broadcasts import scheduled, service
from broadcasts.models import Broadcast
from staff.auth import current_actor, require_staff

bp = Blueprint("broadcasts_api", __name__, url_prefix="/staff/api/broadcasts")


def _runtime():
    return current_app.extensions["bot"]


@bp.get("")
@require_staff
def list_broadcasts():
    with _runtime().database.session() as session:
        items = service.recent_broadcasts(session, limit=int_arg("limit", 50, high=200))
        return jsonify({"broadcasts": [
            {"id": b.id, "audience": b.audience_label, "recipients": b.recipients_count, "status": b.status,
             "send_at": b.send_at.isoformat(), "created_by": b.created_by, "source": b.source,
             "report": service.delivery_report(session, broadcast_id=b.id).as_dict()} for b in items]})


@bp.get("/<id:broadcast_id>")
@require_staff
def report(broadcast_id: int):
    with _runtime().database.session() as session:
        if session.get(Broadcast, broadcast_id) is None:
            return jsonify({"error": "not_found"}), 404
        return jsonify(service.delivery_report(session, broadcast_id=broadcast_id).as_dict())


@bp.post("")
@require_staff
def create():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        body = {}  # a JSON list or number is not a broadcast: treated as empty (fields missing → 422)
    scheduled = body.get("scheduled_for")
    try:
        scheduled_for = datetime.fromisoformat(scheduled) if scheduled else None
    except ValueError:
        return jsonify({"errors": [{"field": "scheduled_for", "message": "ISO 8601 expected"}]}), 422
    problems = service.validate(text=body.get("text", ""), image_url=body.get("image_url"),
                                link_url=body.get("link_url"))
    if problems or body.get("audience") not in service.AUDIENCE_KINDS:
        return jsonify({"errors": problems or ["audience"]}), 422
    runtime = _runtime()
    try:
        with runtime.database.write_session() as session:
            broadcast = service.create_broadcast(
                session, actor=current_actor(), source="api", text=body["text"], image_url=body.get("image_url"),
                link_url=body.get("link_url"), audience_kind=body["audience"],
                audience_value=body.get("audience_value"), scheduled_for=scheduled_for,
                quiet_hours=service.quiet_hours(current_app.config))
            broadcast_id, status = broadcast.id, broadcast.status
    except service.BroadcastError as error:
        return jsonify({"errors": [error.code]}), 422
    if status == "queued":
        scheduled.deliver_soon(runtime.sender, broadcast_id=broadcast_id, delay=0)
    return jsonify({"id": broadcast_id, "status": status}), 201
