"""Activities on the web.

Staff (``require_staff``): /staff/activities (list with registrations and check-ins, the create
form), /staff/activities/<id> (code and QR, invite a segment, the sign-in sheet, sign someone in,
cancel), the sign-in sheets as CSV, and GET /staff/api/activities (JSON).
Public, signed (activities.links): /activities/<id>/checkin — the page staff put on a screen at the
venue (code and QR) — and its QR as PNG for LINE image messages."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from sqlmodel import select

from activities import links, service
from activities.flows import notify_cancelled, settings_of
from activities.models import Activity, ActivityRegistration
from activities.settings import activity_settings
from bot.timeutil import TAIPEI, to_taipei
from broadcasts import scheduled as broadcasts_scheduled
from broadcasts import service as broadcasts
from companies.models import Company
from staff.auth import current_actor, require_staff
from staff.routes import _globals

bp = Blueprint("activities", __name__, template_folder="templates")
bp.context_processor(_globals)  # the staff pages' navigation and login state


def _db():
    return current_app.extensions["bot"].database


def _settings():
    return activity_settings(current_app.config)


def _deliver_soon(broadcast_id: int) -> None:
    broadcasts_scheduled.deliver_soon(current_app.extensions["bot"].sender, broadcast_id=broadcast_id, delay=0)


# --- the list and the create form --------------------------------------------------------------

def _form_draft() -> dict:
    form = request.form
    return {key: (form.get(key) or "").strip() for key in
            ("kind", "title", "starts_at", "minutes", "place", "online_url", "capacity")}


def _parse_draft(draft: dict) -> tuple[dict, list[str]]:
    """The form's fields as create_activity's arguments, or zh-TW problems."""
    problems = []
    starts_at = None
    if draft["starts_at"]:
        try:
            starts_at = datetime.fromisoformat(draft["starts_at"])
            starts_at = starts_at.replace(tzinfo=TAIPEI) if starts_at.tzinfo is None else starts_at
        except ValueError:
            problems.append("開始時間格式不正確")
    numbers = {}
    for key, label in (("minutes", "活動長度"), ("capacity", "名額")):
        value = draft[key]
        if value and not value.isdigit():
            problems.append(f"{label}請填數字")
        numbers[key] = int(value) if value.isdigit() and int(value) < 2**31 else None
    fields = {"kind": draft["kind"], "title": draft["title"], "starts_at": starts_at, "minutes": numbers["minutes"],
              "place": draft["place"] or None, "online_url": draft["online_url"] or None,
              "capacity": numbers["capacity"] or None}
    return fields, problems


def _list_page(db, *, draft: dict, errors: list[str]):
    settings = _settings()
    items = service.recent_activities(db, limit=100)
    counts = service.counts(db, activity_ids=[a.id for a in items])
    return render_template("activities/activities.html", items=items, counts=counts, settings=settings,
                           draft=draft, errors=errors, when=service.when_text, where=service.where_text)


@bp.get("/staff/activities")
@require_staff
def page():
    with _db().read_session() as db:
        return _list_page(db, draft={}, errors=[])


@bp.post("/staff/activities")
@require_staff
def create():
    draft = _form_draft()
    fields, problems = _parse_draft(draft)
    settings = _settings()
    from bot.db import utc_now

    problems += service.validate(**fields, settings=settings, now=utc_now()) if not problems else []
    if problems:
        with _db().read_session() as db:
            return _list_page(db, draft=draft, errors=problems), 422
    with _db().write_session() as db:
        activity = service.create_activity(db, actor=current_actor(), source="dashboard", settings=settings, **fields)
        activity_id = activity.id
    return redirect(url_for("activities.detail", activity_id=activity_id))


# --- one activity ---------------------------------------------------------------------------------

def _sheet(db, activity_id: int) -> list[dict]:
    from bot.models import User

    rows = db.exec(select(ActivityRegistration, Company.name, Company.tax_id, User.display_name)
                   .join(Company, Company.id == ActivityRegistration.company_id, isouter=True)
                   .join(User, User.line_user_id == ActivityRegistration.line_user_id, isouter=True)
                   .where(ActivityRegistration.activity_id == activity_id)
                   .order_by(ActivityRegistration.checked_in_at.is_(None), ActivityRegistration.checked_in_at,
                             ActivityRegistration.responded_at)).all()
    return [{"id": r.id, "company": name or "", "tax_id": tax_id or "",
             "name": r.attendee_name or display or "", "status": r.status, "walk_in": r.walk_in,
             "responded_at": r.responded_at, "checked_in_at": r.checked_in_at, "source": r.checkin_source}
            for r, name, tax_id, display in rows]


@bp.get("/staff/activities/<id:activity_id>")
@require_staff
def detail(activity_id: int):
    config = current_app.config
    with _db().read_session() as db:
        activity = db.get(Activity, activity_id)
        if activity is None:
            abort(404)
        sheet = _sheet(db, activity_id)
        count = service.counts(db, activity_ids=[activity_id])[activity_id]
        options = broadcasts.audience_options(db)
        invitations = [(b, broadcasts.delivery_report(db, broadcast_id=b))
                       for b in activity.invitations or []]
        db.expunge(activity)  # read_session rolls back at its end, which would expire it
    settings = activity_settings(config, activity.program_id)
    opens, closes = settings.checkin_window(activity.starts_at)
    link = service.checkin_link(activity, config.get("LINE_BASIC_ID"))
    from bot.texts import t

    labels = {kind: t(f"broadcasts.aud_{kind}") for kind in broadcasts.AUDIENCE_KINDS}
    return render_template("activities/activity.html", a=activity, sheet=sheet, count=count, settings=settings,
                           opens=opens, closes=closes, qr=links.qr_svg(link) if link else None, link=link,
                           page_url=links.checkin_page_url(config, activity), when=service.when_text(activity),
                           where=service.where_text(activity), kinds=broadcasts.AUDIENCE_KINDS, labels=labels,
                           options=options, draft={}, invitations=invitations, done=request.args.get("done"))


@bp.post("/staff/activities/<id:activity_id>/invite")
@require_staff
def invite(activity_id: int):
    form = request.form
    kind = form.get("audience_kind") or "all"
    value = (form.get(f"value_{kind}") or "").strip() or None
    runtime = current_app.extensions["bot"]
    try:
        with runtime.database.write_session() as db:
            activity = db.get(Activity, activity_id)
            if activity is None:
                abort(404)
            broadcast = service.invite(db, activity=activity, actor=current_actor(), source="dashboard",
                                       audience_kind=kind, audience_value=value if kind in broadcasts.NEEDS_VALUE else None,
                                       settings=activity_settings(current_app.config, activity.program_id),
                                       quiet_hours=broadcasts.quiet_hours(current_app.config))
            broadcast_id = broadcast.id
    except broadcasts.BroadcastError:
        return redirect(url_for("activities.detail", activity_id=activity_id, done="empty"))
    except service.ActivityError:
        return redirect(url_for("activities.detail", activity_id=activity_id, done="cancelled"))
    _deliver_soon(broadcast_id)
    return redirect(url_for("activities.detail", activity_id=activity_id, done="invited"))


@bp.post("/staff/activities/<id:activity_id>/cancel")
@require_staff
def cancel(activity_id: int):
    runtime = current_app.extensions["bot"]
    with runtime.database.write_session() as db:
        activity = db.get(Activity, activity_id)
        if activity is None:
            abort(404)
        try:
            people = service.cancel_activity(db, activity_id=activity_id, actor=current_actor())
        except service.ActivityError:
            return redirect(url_for("activities.detail", activity_id=activity_id))
        notify_cancelled(db, activity=activity, people=people)
    runtime.sender.deliver_due(limit=20)
    return redirect(url_for("activities.detail", activity_id=activity_id, done="cancelled"))


@bp.post("/staff/activities/<id:activity_id>/registrations/<id:registration_id>/checkin")
@require_staff
def staff_checkin(activity_id: int, registration_id: int):
    with _db().write_session() as db:
        row = db.get(ActivityRegistration, registration_id)
        if row is None or row.activity_id != activity_id:
            abort(404)
        service.staff_check_in(db, registration_id=registration_id, actor=current_actor())
    return redirect(url_for("activities.detail", activity_id=activity_id))


def _csv_response(activity_ids: list[int] | None, name: str) -> Response:
    from bot.spreadsheet import spreadsheet_csv

    with _db().read_session() as db:
        rows = service.sign_in_rows(db, settings_of=settings_of(current_app.config), activity_ids=activity_ids)
    stamp = datetime.now(TAIPEI).strftime("%Y%m%d")
    return Response(spreadsheet_csv(service.SHEET_HEADER, rows).encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"',
                             "Cache-Control": "private, no-store"})


@bp.get("/staff/activities.csv")
@require_staff
def sheets_csv():
    return _csv_response(None, "signin")


@bp.get("/staff/activities/<id:activity_id>/signin.csv")
@require_staff
def sheet_csv(activity_id: int):
    return _csv_response([activity_id], f"signin-{activity_id}")


@bp.get("/staff/api/activities")
@require_staff
def api():
    with _db().read_session() as db:
        items = service.recent_activities(db, limit=200)
        counts = service.counts(db, activity_ids=[a.id for a in items])
        settings = _settings()
        return jsonify({"activities": [{
            "id": a.id, "kind": a.kind, "kind_label": settings.kind_label(a.kind), "title": a.title,
            "starts_at": to_taipei(a.starts_at).isoformat(), "ends_at": to_taipei(a.ends_at).isoformat(),
            "place": a.place, "online_url": a.online_url, "capacity": a.capacity, "status": a.status,
            "checkin_code": a.checkin_code, "invitations": a.invitations or [],
            "registered": counts[a.id].registered, "declined": counts[a.id].declined,
            "checked_in": counts[a.id].checked_in, "walk_in": counts[a.id].walk_in} for a in items]})


# --- public, signed: the check-in screen at the venue ------------------------------------------

def _signed_activity(db, activity_id: int) -> Activity:
    activity = db.get(Activity, activity_id)
    if activity is None or not links.signature_ok(current_app.config, activity, request.args.get("s")):
        abort(404)  # a wrong signature looks like no activity at all
    db.expunge(activity)  # read_session rolls back at its end, which would expire it
    return activity


@bp.get("/activities/<id:activity_id>/checkin")
def checkin_page(activity_id: int):
    config = current_app.config
    with _db().read_session() as db:
        activity = _signed_activity(db, activity_id)
    settings = activity_settings(config, activity.program_id)
    opens, closes = settings.checkin_window(activity.starts_at)
    link = service.checkin_link(activity, config.get("LINE_BASIC_ID"))
    return render_template("activities/checkin.html", a=activity, when=service.when_text(activity),
                           opens=opens, closes=closes, qr=links.qr_svg(link, scale=10) if link else None,
                           kind=settings.kind_label(activity.kind))


@bp.get("/activities/<id:activity_id>/qr.png")
def qr_png(activity_id: int):
    config = current_app.config
    with _db().read_session() as db:
        activity = _signed_activity(db, activity_id)
    link = service.checkin_link(activity, config.get("LINE_BASIC_ID"))
    if link is None or activity.status != "open":
        abort(404)
    return Response(links.qr_png(link), mimetype="image/png", headers={"Cache-Control": "public, max-age=600"})
