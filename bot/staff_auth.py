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


def require_staff_token(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        if not staff_token_ok():
            return jsonify({"error": "forbidden"}), 403
        return view(*args, **kwargs)
    return guarded
