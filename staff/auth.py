"""Who may use /staff: a bearer STAFF_API_TOKEN (scripts; bot.staff_auth), or a staff member's
browser session opened with a one-time login link from 「/登入」 in LINE.

The session cookie is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure under https:
bot.security) naming the login that opened it; that login's row is checked on every request and
logout deletes it, so a cookie copied before logout is refused afterwards. The staff role is
re-checked on every request too, so revoking the role (``flask roles revoke``) ends dashboard
access at once. Form posts made with a
session carry a CSRF token; bearer requests need none (no ambient credentials).
"""
from __future__ import annotations

import hmac
import secrets
import time
from functools import wraps

from flask import abort, current_app, g, jsonify, render_template, request, session

from bot.staff_auth import audit_staff_data_access, staff_token_ok
from staff import service

SESSION_SECONDS = 12 * 3600


def start_session(line_user_id: str, login_id: int) -> None:
    session.clear()
    session["staff_uid"] = line_user_id
    session["login_id"] = login_id
    session["login_at"] = int(time.time())
    session["csrf"] = secrets.token_urlsafe(16)
    session.permanent = False


def session_user() -> str | None:
    uid, login_id = session.get("staff_uid"), session.get("login_id")
    if not uid or not isinstance(login_id, int) or time.time() - session.get("login_at", 0) > SESSION_SECONDS:
        return None
    with current_app.extensions["bot"].database.session() as db:
        if not service.session_open(db, login_id=login_id, line_user_id=uid):
            return None
        return uid if service.has_role(db, line_user_id=uid, role="staff") else None


def end_session() -> None:
    """Logout: the login row goes, so this cookie (and any copy of it) opens nothing any more."""
    uid, login_id = session.get("staff_uid"), session.get("login_id")
    session.clear()
    if uid and isinstance(login_id, int):
        with current_app.extensions["bot"].database.write_session() as db:
            service.close_session(db, login_id=login_id, line_user_id=uid)


def authenticate() -> str | None:
    """'staff-token' for a good bearer token, the LINE user id for a staff session, else None."""
    if staff_token_ok():
        g.staff_via = "token"
        return "staff-token"
    uid = session_user()
    if uid:
        g.staff_via = "session"
        return uid
    return None


def current_actor() -> str:
    return getattr(g, "staff_actor", None) or "staff-token"


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(16)
    return session["csrf"]


def _wants_html() -> bool:
    return "text/html" in request.headers.get("Accept", "") and not request.path.startswith("/staff/api/")


def require_staff(view):
    """Staff only: bearer token or a staff session; POSTs from a session must carry the CSRF token."""
    @wraps(view)
    def guarded(*args, **kwargs):
        actor = authenticate()
        if actor is None:
            if _wants_html():
                return render_template("staff/login_needed.html"), 403
            return jsonify({"error": "forbidden"}), 403
        if request.method == "POST" and g.staff_via == "session":
            given = request.form.get("csrf") or request.headers.get("X-CSRF-Token", "")
            if not hmac.compare_digest(str(given), str(session.get("csrf", ""))):
                abort(400)
        g.staff_actor = actor
        return audit_staff_data_access(view(*args, **kwargs), actor=str(actor)[:64])
    return guarded
