"""Staff view of the outbox: dead letters and what is waiting (``GET /staff/outbox``)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request
from sqlmodel import select

from bot.models import OutboundMessage
from bot.staff_auth import require_staff_token
from bot.http import int_arg

bp = Blueprint("scheduler_staff", __name__, url_prefix="/staff")
STATUSES = ("pending", "sending", "sent", "dead", "cancelled")


@bp.get("/outbox")
@require_staff_token
def outbox():
    status = request.args.get("status", "dead")
    if status not in STATUSES:
        return jsonify({"error": f"status must be one of {', '.join(STATUSES)}"}), 422
    limit = int_arg("limit", 100, high=500)
    runtime = current_app.extensions["bot"]
    with runtime.database.session() as session:
        counts = dict(session.exec(select(OutboundMessage.status, sa.func.count(OutboundMessage.id))
                                   .group_by(OutboundMessage.status)).all())
        rows = session.exec(select(OutboundMessage).where(OutboundMessage.status == status)
                            .order_by(OutboundMessage.id.desc()).limit(limit)).all()
        # No message text: staff see where and why, not what was said (privacy).
        items = [{"id": r.id, "kind": r.kind, "recipient": r.recipient,
                  "recipients": len(r.recipients or []) if r.kind == "multicast" else None,
                  "origin": r.origin, "idempotency_key": r.idempotency_key, "status": r.status,
                  "attempts": r.attempts, "last_error": r.last_error,
                  "created_at": r.created_at.isoformat() if r.created_at else None,
                  "next_attempt_at": r.next_attempt_at.isoformat() if r.next_attempt_at else None}
                 for r in rows]
    return jsonify({"status": status, "counts": {s: counts.get(s, 0) for s in STATUSES}, "items": items})
