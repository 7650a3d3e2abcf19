"""What visits contribute to checkpoints: the visit-rule metrics (002 叁 基本工作項目 2: 專案顧問
輔導每家至少 3 次，現地輔導不得少於 1 次), their columns in the company list, and the 企業個案輔導
紀錄 with photos for the evidence pack."""
from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.timeutil import to_taipei
from checkpoints.evidence import register_company_columns, register_section, roc, safe_name
from checkpoints.metrics import MetricResult, register_metric
from visits import service
from visits.models import Visit
from visits.photos import VisitPhoto


def counts(session: Session, *, company_ids: list[int], as_of) -> dict[int, tuple[int, int]]:
    """{company: (done visits, on-site ones)} up to ``as_of``."""
    found = {cid: (0, 0) for cid in company_ids}
    if not company_ids:
        return found
    onsite = sa.func.sum(sa.case((Visit.mode == "onsite", 1), else_=0))
    for start in range(0, len(company_ids), 900):
        for company_id, total, on in session.exec(
                select(Visit.company_id, sa.func.count(Visit.id), onsite)
                .where(Visit.company_id.in_(company_ids[start:start + 900]), Visit.status == "done",
                       Visit.deleted_at.is_(None), Visit.visited_at <= as_of)
                .group_by(Visit.company_id)).all():
            found[company_id] = (int(total), int(on or 0))
    return found


def _companies(session, program, as_of):
    from checkpoints.service import programme_companies

    return programme_companies(session, program_id=program.id, as_of=as_of)


def _rule_metric(which: str):
    def provider(session: Session, *, program, as_of) -> MetricResult:
        rules = service.parse_visit_rules(program.raw.get("visit_rules"))
        companies = _companies(session, program, as_of)
        found = counts(session, company_ids=[c.id for c in companies], as_of=as_of)
        if which == "total":
            met = {cid: total >= rules.min_total for cid, (total, _) in found.items()}
        else:
            met = {cid: on >= rules.min_onsite for cid, (_, on) in found.items()}
        visits = sum(total for total, _ in found.values())
        return MetricResult(done=sum(met.values()), per_company=met, detail=f"{visits} 次訪視")
    return provider


register_metric("visits.min_total", _rule_metric("total"))
register_metric("visits.min_onsite", _rule_metric("onsite"))


def visit_columns(session: Session, *, companies, program, as_of):
    found = counts(session, company_ids=[c.id for c in companies], as_of=as_of)
    return ["訪視次數", "現地訪視次數"], {cid: [total, on] for cid, (total, on) in found.items()}


register_company_columns("visits", order=40, columns=visit_columns)


VISIT_HEADER = ["日期", "時間", "方式", "時數（分鐘）", "輔導內容", "備註", "照片", "專案顧問"]


def write_visit_records(session: Session, pack) -> None:
    """輔導紀錄: one sheet per company (企業個案輔導紀錄), the photos in a folder per company."""
    from staff.service import team_names

    names = team_names(session)
    ids = [c.id for c in pack.companies]
    visits: dict[int, list[Visit]] = {cid: [] for cid in ids}
    for start in range(0, len(ids), 900):
        for visit in session.exec(select(Visit).where(
                Visit.company_id.in_(ids[start:start + 900]), Visit.status == "done", Visit.deleted_at.is_(None),
                Visit.visited_at <= pack.as_of).order_by(Visit.visited_at, Visit.id)).all():
            visits[visit.company_id].append(visit)
    summary, sheets, photo_count = [], [], 0
    for index, company in enumerate(pack.companies, start=1):
        folder = f"輔導紀錄/{index:03d}_{safe_name(pack.company_label(company))}"
        rows = []
        for visit in visits[company.id]:
            local = to_taipei(visit.visited_at)
            files = []
            photos = session.exec(select(VisitPhoto).where(VisitPhoto.visit_id == visit.id)
                                  .order_by(VisitPhoto.id)).all()
            for n, photo in enumerate(photos, start=1):
                suffix = photo.mime.rsplit("/", 1)[-1].replace("jpeg", "jpg")
                name = f"{local:%Y%m%d}_{visit.id}_{n}.{suffix}"
                pack.add_file(f"{folder}/{name}", photo.data)
                files.append(name)
            photo_count += len(files)
            rows.append([roc(local.date()), f"{local:%H:%M}" if local.hour or local.minute else "",
                         service.mode_label(visit.mode), visit.duration_minutes or "", visit.topics or "",
                         visit.notes or "", "、".join(files),
                         names.get(visit.advisor_line_user_id or "", "")])
        onsite = sum(1 for v in visits[company.id] if v.mode == "onsite")
        summary.append([index, company.tax_id or "", pack.company_label(company), len(rows), onsite])
        sheets.append((f"{index:03d} {pack.company_label(company)}", VISIT_HEADER, rows))
    pack.add_workbook("輔導紀錄/輔導紀錄.xlsx",
                      [("總表", ["序號", "統一編號", "企業名稱", "訪視次數", "現地"], summary), *sheets])
    pack.counts["visits"] = sum(len(v) for v in visits.values())
    pack.counts["visit_photos"] = photo_count


register_section("visits", order=30, title="輔導紀錄", write=write_visit_records)
