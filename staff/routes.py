"""The staff dashboard (/staff): server-rendered pages (Jinja), phone-friendly, no external assets.

Every view is behind ``require_staff`` (bearer STAFF_API_TOKEN or a session opened by a one-time
login link from 「/登入」)."""
from __future__ import annotations

from datetime import datetime

from flask import (Blueprint, Response, abort, current_app, g, jsonify, redirect, render_template, request,
                   session, url_for)
from sqlmodel import select

from bot.services import audit as record_audit
from bot.timeutil import TAIPEI, format_roc_date, format_roc_datetime
from bot.http import int_arg
from broadcasts import scheduled as broadcasts_scheduled
from broadcasts import service as broadcasts_service
from broadcasts.models import Broadcast, SavedList
from campaign import service as campaign_service
from companies.models import Company
from knowledge import unanswered as faq_unanswered
from staff import metrics, service
from bot.security import content_disposition
from staff.auth import csrf_token, current_actor, end_session, require_staff, start_session
from visits import service as visits_service
from visits.photos import VisitPhoto

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates", static_folder="static",
               static_url_path="/static")

NAV = (("staff.overview", "總覽"), ("checkpoints.page", "查核點"), ("kpis.page", "自訂績效"), ("staff.companies", "企業與顧問"),
       ("staff.visits", "訪視"), ("activities.page", "活動"), ("replacements.page", "抽換"),
       ("companies.join_requests", "加入申請"), ("staff.broadcasts", "公告"), ("staff.queue", "發送佇列"),
       ("staff.audit", "稽核紀錄"))


def _db():
    return current_app.extensions["bot"].database


@bp.app_template_filter("roc")
def _roc(value) -> str:
    if value is None:
        return "—"
    return format_roc_datetime(value) if isinstance(value, datetime) else format_roc_date(value)


@bp.app_template_filter("audit_label")
def _audit_label(action: str) -> str:
    from bot.texts import t

    try:
        return t(f"staff.audit_{action}")
    except KeyError:
        return action


@bp.app_template_filter("audit_detail")
def _audit_detail(detail, names: dict | None = None) -> str:
    """An audit entry's details in words: 「身分：顧問；版本：2」 (labels in staff.yaml detail_<key>,
    team members by name)."""
    from bot.texts import t

    names = names or {}

    def label(key: str) -> str:
        try:
            return t(f"staff.detail_{key}")
        except KeyError:
            return key

    def value(item) -> str:
        if isinstance(item, (list, tuple)):
            return "、".join(value(v) for v in item)
        if isinstance(item, dict):
            return "、".join(f"{label(k)} {value(v)}" for k, v in item.items())
        if isinstance(item, bool):
            return "是" if item else "否"
        if item is None or item == "":
            return "—"
        if item in names:
            return names[item]
        try:
            return t(f"staff.value_{item}") if isinstance(item, str) and item.isidentifier() else str(item)
        except KeyError:
            return str(item)

    return "；".join(f"{label(k)}：{value(v)}" for k, v in (detail or {}).items()) or "—"


def audit_actions() -> list[tuple[str, str]]:
    """Every action the dashboard has words for, for the audit filter."""
    from bot.texts import all_keys

    prefix = "staff.audit_"
    return sorted(((key[len(prefix):], text) for key, text in all_keys().items() if key.startswith(prefix)),
                  key=lambda pair: pair[1])


@bp.app_template_filter("pct")
def _pct(value) -> str:
    return f"{100 * (value or 0):.0f}%"


@bp.context_processor
def _globals():
    return {"nav": NAV, "csrf": csrf_token if session.get("staff_uid") else (lambda: ""),
            "short_id": service.short_id, "actor": getattr(g, "staff_actor", None)}


# --- login --------------------------------------------------------------------------------

def _next_page() -> str | None:
    """Where a login link from chat leads (「/查核點」: the checkpoints page): a page of the
    dashboard only, never another site (an open redirect)."""
    target = request.args.get("next") or ""
    return target if service.is_dashboard_path(target) else None


@bp.get("/login/<token>")
def login_page(token: str):
    # A GET never uses the link up (LINE's in-app browser and link previews may fetch it).
    return render_template("staff/login.html", token=token, next=_next_page())


@bp.post("/login/<token>")
def login(token: str):
    with _db().write_session() as db:
        uid = service.consume_login_token(db, token=token)
        login_id = service.login_id(db, token=token) if uid else None
    if uid is None or login_id is None:
        return render_template("staff/login_needed.html", expired=True), 403
    start_session(uid, login_id)
    return redirect(_next_page() or url_for("staff.overview"))


@bp.post("/logout")
def logout():
    end_session()
    return redirect(url_for("staff.login_needed"))


@bp.get("/login")
def login_needed():
    return render_template("staff/login_needed.html"), 200


# --- overview -----------------------------------------------------------------------------

@bp.get("")
@bp.get("/")
@require_staff
def overview():
    with _db().session() as db:
        data = metrics.overview(db, config=current_app.config)
        broadcasts = [(b, broadcasts_service.delivery_report(db, broadcast_id=b.id))
                      for b in broadcasts_service.recent_broadcasts(db, limit=5)]
        audit = metrics.recent_audit(db, limit=10)
        names = service.team_names(db)
    return render_template("staff/overview.html", o=data, broadcasts=broadcasts, audit=audit, names=names,
                           notice=campaign_service.staff_notice(current_app.config))


@bp.get("/api/summary")
@require_staff
def summary_json():
    with _db().session() as db:
        data = metrics.overview(db, config=current_app.config)
    return jsonify({
        "program": data.program_id, "recruited": data.recruited, "track": data.track, "tiers": data.tiers,
        "tier_reached": data.tier_reached, "funnel": [{"label": b.label, "value": b.value} for b in data.funnel],
        "letters": data.letters, "outbox": data.outbox, "unanswered": data.unanswered,
        "visits": {k: v for k, v in data.visits.items() if k != "rules"} | {
            "min_total": data.visits["rules"].min_total, "min_onsite": data.visits["rules"].min_onsite},
    })


# --- companies and advisors ---------------------------------------------------------------

@bp.get("/companies")
@require_staff
def companies():
    query = (request.args.get("q") or "").strip()
    with _db().session() as db:
        statement = select(Company).order_by(Company.id)
        if query:
            statement = statement.where((Company.name.contains(query)) | (Company.tax_id == query))
        rows = list(db.exec(statement.limit(500)).all())
        advisors = service.people_with_role(db, role="advisor")
        staff_people = service.people_with_role(db, role="staff")
    return render_template("staff/companies.html", companies=rows, advisors=advisors, names=dict(advisors),
                           staff_people=staff_people, q=query)


@bp.post("/companies/<id:company_id>/assign")
@require_staff
def assign(company_id: int):
    from staff.flows import notify_assignment

    advisor = (request.form.get("advisor") or "").strip() or None
    with _db().write_session() as db:
        if advisor and advisor not in dict(service.people_with_role(db, role="advisor")):
            abort(400)
        try:
            company = visits_service.assign_company(db, company_id=company_id, advisor=advisor, actor=current_actor())
        except visits_service.VisitError:
            abort(404)
        if advisor:
            notify_assignment(db, company=company, advisor=advisor)
    current_app.extensions["bot"].sender.deliver_due(limit=20)
    return redirect(url_for("staff.companies", q=request.args.get("q") or None))


# --- visits -------------------------------------------------------------------------------

@bp.get("/visits")
@require_staff
def visits():
    with _db().session() as db:
        rules, rows = metrics.company_progress(db, config=current_app.config)
        per_advisor = {a: (n, o) for a, n, o in visits_service.visits_per_advisor(db)}
        names = service.team_names(db)
        recent = visits_service.export_rows(db)[-30:][::-1]
        photos: dict[int, list[int]] = {}
        for photo_id, visit_id in db.exec(select(VisitPhoto.id, VisitPhoto.visit_id).where(
                VisitPhoto.visit_id.in_([row["visit_id"] for row in recent])).order_by(VisitPhoto.id)).all():
            photos.setdefault(visit_id, []).append(photo_id)
        company_count = {}
        for company, progress in rows:
            entry = company_count.setdefault(company.advisor_line_user_id or "", [0, 0])
            entry[0] += 1
            entry[1] += int(progress.meets_rule)
        for advisor in per_advisor:
            company_count.setdefault(advisor, [0, 0])
    return render_template("staff/visits.html", rules=rules, rows=rows, per_advisor=per_advisor, names=names,
                           recent=recent, company_count=company_count, photos=photos)


@bp.get("/visits.csv")
@require_staff
def visits_csv():
    with _db().session() as db:
        text = visits_service.visits_csv(db, bom=True)
    stamp = datetime.now(TAIPEI).strftime("%Y%m%d")
    return Response(text.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": content_disposition("attachment", f"visits-{stamp}.csv")})


@bp.get("/visits/photos/<id:photo_id>")
@require_staff
def visit_photo(photo_id: int):
    with _db().session() as db:
        photo = db.get(VisitPhoto, photo_id)
        if photo is None:
            abort(404)
        return Response(photo.data, mimetype=photo.mime, headers={"Cache-Control": "private, max-age=3600"})


# --- broadcasts ---------------------------------------------------------------------------

def _draft_from_form() -> dict:
    form = request.form
    return {"text": (form.get("text") or "").strip(), "image_url": (form.get("image_url") or "").strip() or None,
            "link_url": (form.get("link_url") or "").strip() or None,
            "audience_kind": form.get("audience_kind") or "all",
            "audience_value": (form.get(f"value_{form.get('audience_kind')}") or form.get("audience_value") or "").strip() or None,
            "scheduled_for": (form.get("scheduled_for") or "").strip() or None}


def _scheduled(draft: dict) -> datetime | None:
    if not draft.get("scheduled_for"):
        return None
    moment = datetime.fromisoformat(draft["scheduled_for"])
    return moment.replace(tzinfo=TAIPEI) if moment.tzinfo is None else moment


def _broadcasts_page(db, *, options: dict, draft: dict, errors: list[str]) -> str:
    """The compose form (with the draft and its problems, if any), recent broadcasts, saved lists."""
    from bot.texts import t

    items = [(b, broadcasts_service.delivery_report(db, broadcast_id=b.id))
             for b in broadcasts_service.recent_broadcasts(db, limit=50)]
    lists = list(db.exec(select(SavedList).order_by(SavedList.name)).all())
    labels = {kind: t(f"broadcasts.aud_{kind}") for kind in broadcasts_service.AUDIENCE_KINDS}
    return render_template("staff/broadcasts.html", items=items, options=options, lists=lists, draft=draft,
                           kinds=broadcasts_service.AUDIENCE_KINDS, labels=labels, errors=errors)


@bp.get("/broadcasts")
@require_staff
def broadcasts():
    with _db().session() as db:
        return _broadcasts_page(db, options=broadcasts_service.audience_options(db), draft={}, errors=[])


@bp.post("/broadcasts/preview")
@require_staff
def broadcast_preview():
    draft = _draft_from_form()
    errors = broadcasts_service.validate(text=draft["text"], image_url=draft["image_url"], link_url=draft["link_url"])
    try:
        scheduled = _scheduled(draft)
    except ValueError:
        scheduled, errors = None, [*errors, "排程時間格式不正確"]
    with _db().session() as db:
        options = broadcasts_service.audience_options(db)
        try:
            count = broadcasts_service.count_audience(db, kind=draft["audience_kind"], value=draft["audience_value"])
        except broadcasts_service.BroadcastError:
            count, errors = 0, [*errors, "請選擇對象"]
        if not errors and count == 0:
            errors.append("這個對象目前沒有可以發送的人（0 人）")
        if errors:
            return _broadcasts_page(db, options=options, draft=draft, errors=errors), 422
    quiet = broadcasts_service.quiet_hours(current_app.config)
    send_at = broadcasts_service.outside_quiet_hours(scheduled, quiet) if scheduled else None
    messages = broadcasts_service.preview_messages(text=draft["text"], image_url=draft["image_url"],
                                                   link_url=draft["link_url"])
    label = broadcasts_service.audience_label(draft["audience_kind"], draft["audience_value"],
                                              lists=dict(options["list"]))
    return render_template("staff/broadcast_preview.html", draft=draft, count=count, messages=messages,
                           audience=label, send_at=send_at, moved=bool(scheduled and send_at != scheduled))


@bp.post("/broadcasts")
@require_staff
def broadcast_create():
    draft = _draft_from_form()
    runtime = current_app.extensions["bot"]
    try:
        with runtime.database.write_session() as db:
            broadcast = broadcasts_service.create_broadcast(
                db, actor=current_actor(), source="dashboard", text=draft["text"], image_url=draft["image_url"],
                link_url=draft["link_url"], audience_kind=draft["audience_kind"],
                audience_value=draft["audience_value"], scheduled_for=_scheduled(draft),
                quiet_hours=broadcasts_service.quiet_hours(current_app.config))
            broadcast_id, status = broadcast.id, broadcast.status
    except (broadcasts_service.BroadcastError, ValueError):
        abort(422)
    if status == "queued":
        broadcasts_scheduled.deliver_soon(runtime.sender, broadcast_id=broadcast_id, delay=0)
    return redirect(url_for("staff.broadcast_report", broadcast_id=broadcast_id))


@bp.get("/broadcasts/<id:broadcast_id>")
@require_staff
def broadcast_report(broadcast_id: int):
    with _db().session() as db:
        broadcast = db.get(Broadcast, broadcast_id)
        if broadcast is None:
            abort(404)
        report = broadcasts_service.delivery_report(db, broadcast_id=broadcast_id)
        names = service.team_names(db)
    messages = broadcasts_service.preview_messages(text=broadcast.text, image_url=broadcast.image_url,
                                                   link_url=broadcast.link_url)
    if request.args.get("format") == "json" or "application/json" in request.headers.get("Accept", ""):
        return jsonify(report.as_dict())
    return render_template("staff/broadcast_report.html", b=broadcast, r=report, messages=messages, names=names)


@bp.post("/broadcasts/<id:broadcast_id>/cancel")
@require_staff
def broadcast_cancel(broadcast_id: int):
    with _db().write_session() as db:
        try:
            broadcasts_service.cancel_broadcast(db, broadcast_id=broadcast_id, actor=current_actor())
        except broadcasts_service.BroadcastError:
            abort(404)
    return redirect(url_for("staff.broadcast_report", broadcast_id=broadcast_id))


@bp.post("/lists")
@require_staff
def save_list():
    name = (request.form.get("name") or "").strip()[:60]
    members = [m.strip() for m in (request.form.get("members") or "").replace(",", "\n").splitlines()
               if m.strip().startswith("U") and len(m.strip()) <= 64]
    if not name or not members:
        abort(422)
    with _db().write_session() as db:
        existing = db.exec(select(SavedList).where(SavedList.name == name)).first()
        saved = existing or SavedList(name=name, created_by=current_actor())
        saved.members = list(dict.fromkeys(members))
        db.add(saved)
        record_audit(db, actor=current_actor(), action="broadcast_list_saved", target=f"list:{name}", size=len(members))
    return redirect(url_for("staff.broadcasts"))


# --- outbox and audit ---------------------------------------------------------------------

@bp.get("/queue")
@require_staff
def queue():
    with _db().session() as db:
        breakdown = metrics.outbox_breakdown(db)
        dead = metrics.dead_letters(db)
    return render_template("staff/outbox.html", breakdown=breakdown, dead=dead)


@bp.get("/audit")
@require_staff
def audit():
    page = int_arg("page", 1, high=100_000)  # ?page=abc → first page, not a 500
    action = request.args.get("action") or None
    with _db().session() as db:
        entries = metrics.recent_audit(db, limit=100, offset=(page - 1) * 100, action=action)
        names = service.team_names(db)
    return render_template("staff/audit.html", entries=entries, page=page, action=action, names=names,
                           actions=audit_actions())


@bp.get("/unanswered")
@require_staff
def unanswered():
    """The FAQ's unanswered questions, to answer from a phone. (knowledge.routes serves the JSON
    for bearer clients at the same address and hands browsers to this page.)"""
    with _db().session() as db:
        summary = metrics.unanswered_summary(db)
        rows = faq_unanswered.list_questions(db, status="open", limit=100)
        answered = metrics.latest_answered(db, limit=10)
        askers = faq_unanswered.askers(db, user_ids=[r.line_user_id for r in rows + answered])
    # Reached through knowledge.routes' endpoint too, where this blueprint's context processor
    # does not run: pass the page globals explicitly.
    return render_template("staff/unanswered.html", summary=summary, rows=rows, answered=answered, askers=askers,
                           done=request.args.get("done"), error=request.args.get("error"), **_globals())


@bp.post("/unanswered/<id:question_id>/reply")
@require_staff
def unanswered_reply(question_id: int):
    answer = (request.form.get("answer") or "").strip()
    add_to = (request.form.get("add_to_entry") or "").strip() or None
    runtime = current_app.extensions["bot"]
    try:
        with runtime.database.write_session() as db:
            faq_unanswered.answer_question(db, question_id=question_id, answer=answer, answered_by=current_actor(),
                                           kb=runtime.services.kb, add_to_entry=add_to,
                                           add_as_entry=request.form.get("add_as_entry") == "1")
    except faq_unanswered.UnansweredError:
        return redirect(url_for("staff.unanswered", error=question_id))
    runtime.sender.deliver_due(limit=20)
    return redirect(url_for("staff.unanswered", done=question_id))
