"""Bearer-token guard for the staff JSON/CSV endpoints (CONTRACT: `STAFF_API_TOKEN`).

    from bot.staff_auth import require_staff_token

    @bp.get("/staff/thing")
    @require_staff_token
    def thing(): ...

403 when the token is unset (staff endpoints are off) or the request's bearer token differs.
"""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, jsonify, request


def staff_token_ok() -> bool:
    expected = current_app.config.get("STAFF_API_TOKEN")
    if not expected:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), str(expected).encode())


DATA_MIMETYPES = ("text/csv", "application/json", "application/pdf")


def audit_staff_data_access(response, *, actor: str):
    """Staff reading personal data is audited (個資法; issue 8): every CSV/JSON/PDF answer of a
    staff route records who read which path — never the data itself."""
    from flask import make_response

    from bot.services import audit

    response = make_response(response)
    if request.method == "GET" and response.status_code < 400 and response.mimetype in DATA_MIMETYPES:
        try:
            with current_app.extensions["bot"].database.write_session() as session:
                audit(session, actor=actor, action="staff_data_read", target=request.path[:120],
                      format=response.mimetype)
        except Exception:  # auditing must not turn a served export into an error
            current_app.logger.exception("could not audit staff data access")
    return response


def require_staff_token(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        if not staff_token_ok():
            return jsonify({"error": "forbidden"}), 403
        return audit_staff_data_access(view(*args, **kwargs), actor="staff-token")
    return guarded
