"""Staff decide join requests on the dashboard (``/staff/join-requests``) when a company's
members cannot (the owner is gone) — or instead of them. Behind ``staff.auth.require_staff``:
a bearer STAFF_API_TOKEN or a staff session (form posts carry its CSRF token)."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for

from companies import service
from staff.auth import current_actor, require_staff

bp = Blueprint("companies", __name__, url_prefix="/staff", template_folder="templates")


@bp.context_processor
def _staff_page_globals():
    # The dashboard's navigation, CSRF token and signed-in actor, as on every /staff page.
    from staff.routes import _globals

    return _globals()


def _db():
    return current_app.extensions["bot"].database


@bp.get("/join-requests")
@require_staff
def join_requests():
    status = request.args.get("status") or service.PENDING
    if status not in (service.PENDING, service.APPROVED, service.DECLINED):
        status = service.PENDING
    with _db().session() as session:
        rows = [service.describe_request(session, join) for join in service.join_requests(session, status=status)]
    return render_template("companies/join_requests.html", rows=rows, status=status,
                           done=request.args.get("done"), error=request.args.get("error"))


@bp.get("/api/join-requests")
@require_staff
def join_requests_json():
    status = request.args.get("status") or service.PENDING
    with _db().session() as session:
        rows = [service.describe_request(session, join) for join in service.join_requests(session, status=status or None)]
    return jsonify({"requests": rows})


def _decide(request_id: int, *, approve: bool):
    actor = current_actor()
    try:
        with _db().write_session() as session:
            join = service.decide(session, request_id=request_id, approve=approve, actor=actor, via="dashboard")
            status = join.status
    except service.JoinDecisionError as error:
        if g.staff_via == "token":
            return jsonify({"error": error.reason}), 404 if error.reason == "not_found" else 409
        return redirect(url_for("companies.join_requests", error=request_id))
    current_app.extensions["bot"].sender.deliver_due(limit=20)
    if g.staff_via == "token":  # a script with the bearer token
        return jsonify({"id": request_id, "status": status})
    return redirect(url_for("companies.join_requests", done=request_id))


@bp.post("/join-requests/<id:request_id>/approve")
@require_staff
def approve(request_id: int):
    return _decide(request_id, approve=True)


@bp.post("/join-requests/<id:request_id>/decline")
@require_staff
def decline(request_id: int):
    return _decide(request_id, approve=False)
