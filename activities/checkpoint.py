"""What activities contribute to checkpoints (002 叁 基本工作項目 3–5; 附件一 參 一 4): the
sessions held (知能活動 ≥ 3, 成果展示 ≥ 1), the head count (人次) with each company's share, the
per-company attendance columns of the company list, and the sign-in sheets (簽到表) for the
evidence pack.

A session counts once it has been held by ``as_of`` with at least one check-in: the sign-in
sheet is its evidence. A head is a check-in (one per person and activity, never twice)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from activities import service
from activities.models import Activity, ActivityRegistration
from activities.settings import activity_settings
from checkpoints.evidence import register_company_columns, register_section
from checkpoints.metrics import MetricResult, register_metric

WORKSHOP, SHOWCASE = "workshop", "showcase"


def _checkins(session: Session, *, program_id: str, kind: str, as_of):
    """(activity id, company id or None) per check-in of this kind held by ``as_of``."""
    return session.exec(select(Activity.id, ActivityRegistration.company_id)
                        .join(ActivityRegistration, ActivityRegistration.activity_id == Activity.id)
                        .where(Activity.program_id == program_id, Activity.kind == kind,
                               Activity.status == "open", Activity.starts_at <= as_of,
                               ActivityRegistration.checked_in_at.is_not(None),
                               ActivityRegistration.checked_in_at <= as_of)).all()


def _sessions(kind: str):
    def provider(session: Session, *, program, as_of) -> MetricResult:
        rows = _checkins(session, program_id=program.id, kind=kind, as_of=as_of)
        held = {activity_id for activity_id, _ in rows}
        return MetricResult(done=len(held), detail=f"{len(rows)} 人次")
    return provider


def attendance(session: Session, *, program, as_of) -> MetricResult:
    """知能活動參加人次. Not per company: attending is no company's duty, so a company with none is
    not "missing" anything (each company's 人次 is a column of the evidence pack's company list)."""
    rows = _checkins(session, program_id=program.id, kind=WORKSHOP, as_of=as_of)
    companies = len({company_id for _, company_id in rows if company_id is not None})
    return MetricResult(done=len(rows), detail=f"{companies} 家企業參加")


register_metric("activities.sessions", _sessions(WORKSHOP))
register_metric("showcase.sessions", _sessions(SHOWCASE))
register_metric("activities.attendance", attendance)


def attendance_columns(session: Session, *, companies, program, as_of):
    """知能活動 and 成果展示 attendance (人次) per company, for the company list."""
    ids = [c.id for c in companies]
    found = {cid: [0, 0] for cid in ids}
    for start in range(0, len(ids), 900):
        for company_id, kind, count in session.exec(
                select(ActivityRegistration.company_id, Activity.kind, sa.func.count(ActivityRegistration.id))
                .join(Activity, Activity.id == ActivityRegistration.activity_id)
                .where(ActivityRegistration.company_id.in_(ids[start:start + 900]), Activity.status == "open",
                       ActivityRegistration.checked_in_at.is_not(None), ActivityRegistration.checked_in_at <= as_of)
                .group_by(ActivityRegistration.company_id, Activity.kind)).all():
            if kind in (WORKSHOP, SHOWCASE):
                found[company_id][0 if kind == WORKSHOP else 1] += int(count)
    settings = activity_settings(_config(), program.id)
    return [f"{settings.kind_label(WORKSHOP)}人次", f"{settings.kind_label(SHOWCASE)}人次"], found


def _config():
    from flask import current_app, has_app_context

    return current_app.config if has_app_context() else {}


def write_sign_in_sheets(session: Session, pack) -> None:
    """活動簽到表: a summary sheet of the sessions held, then one sheet per activity."""
    config = pack.config or _config()

    def settings_of(program_id):
        return activity_settings(config, program_id)

    activities = list(session.exec(select(Activity).where(
        Activity.program_id == pack.program.id, Activity.status == "open", Activity.starts_at <= pack.as_of)
        .order_by(Activity.starts_at, Activity.id)).all())
    rows = service.sign_in_rows(session, settings_of=settings_of, activity_ids=[a.id for a in activities],
                                as_of=pack.as_of)
    by_activity: dict[int, list] = {}
    for row in rows:
        by_activity.setdefault(row[0], []).append(row)
    settings = settings_of(pack.program.id)
    summary = [[a.id, settings.kind_label(a.kind), a.title, service.when_text(a), service.where_text(a),
                len(by_activity.get(a.id, []))] for a in activities]
    sheets = [("場次總表", ["活動編號", "類型", "活動名稱", "日期時間", "地點", "簽到人次"], summary)]
    header = ["序號", "公司名稱", "統一編號", "姓名", "簽到時間", "報名方式", "簽到方式"]
    for activity in activities:
        sheets.append((f"{activity.id} {activity.title}", header, [row[5:] for row in by_activity.get(activity.id, [])]))
    pack.add_workbook("活動簽到表.xlsx", sheets)
    pack.counts["activities"] = len(activities)
    pack.counts["activity_checkins"] = len(rows)


register_company_columns("activities", order=75, columns=attendance_columns)
register_section("activities", order=70, title="活動簽到表", write=write_sign_in_sheets)
