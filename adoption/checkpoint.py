"""What adoption and usage contribute to checkpoints: the 導入家數 and 達常態流量家數 metrics,
their columns in the company list, and the 企業流量清冊 with screenshots for the evidence pack."""
from __future__ import annotations

from sqlmodel import Session, select

from adoption import service
from adoption.models import UsageReport, UsageScreenshot
from checkpoints.evidence import register_company_columns, register_section, roc, safe_name
from checkpoints.metrics import MetricResult, register_metric


def _companies(session, program, as_of):
    from checkpoints.service import programme_companies

    return programme_companies(session, program_id=program.id, as_of=as_of)


def adopted_companies(session: Session, *, program, as_of) -> MetricResult:
    """Companies whose owner confirmed, by ``as_of``, that they use at least one tool."""
    companies = _companies(session, program, as_of)
    confirmed = service.confirmed_by_company(session, company_ids=[c.id for c in companies], as_of=as_of)
    per_company = {cid: bool(rows) for cid, rows in confirmed.items()}
    pending = len(service.pending_by_company(session, company_ids=[c.id for c in companies]))
    return MetricResult(done=sum(per_company.values()), per_company=per_company,
                        detail=f"{pending} 家等店家確認" if pending else None)


def normal_use(session: Session, *, program, as_of) -> MetricResult:
    """Companies whose latest monthly figure reaches the usage minimum (常態流量; 002 註 6)."""
    companies = _companies(session, program, as_of)
    latest = service.latest_reports(session, company_ids=[c.id for c in companies], as_of=as_of)
    minimum = program.usage_minimum.monthly if program.usage_minimum else None
    per_company = {c.id: bool(minimum is not None and c.id in latest and latest[c.id].figure is not None
                              and latest[c.id].figure >= minimum) for c in companies}
    return MetricResult(done=sum(per_company.values()), per_company=per_company,
                        detail=f"{len(latest)} 家已回報" if latest else None)


register_metric("adoption.companies", adopted_companies)
register_metric("usage.normal", normal_use)


def adoption_columns(session: Session, *, companies, program, as_of):
    ids = [c.id for c in companies]
    confirmed = service.confirmed_by_company(session, company_ids=ids, as_of=as_of)
    pending = service.pending_by_company(session, company_ids=ids)
    values = {}
    for company in companies:
        rows = confirmed.get(company.id) or []
        values[company.id] = ["、".join(program.tool_name(a.tool_id) for a in rows),
                              roc(rows[0].started_on) if rows else "", roc(rows[0].answered_at) if rows else "",
                              "、".join(program.tool_name(a.tool_id) for a in pending.get(company.id, []))]
    return ["導入工具（店家已確認）", "開始使用日", "店家確認日", "等店家確認"], values


def usage_columns(session: Session, *, companies, program, as_of):
    latest = service.latest_reports(session, company_ids=[c.id for c in companies], as_of=as_of)
    label = program.usage_minimum.label if program.usage_minimum else "使用量"
    values = {}
    for company in companies:
        report = latest.get(company.id)
        meets = report.meets_minimum if report else None
        values[company.id] = [service.period_label(report.period) if report else "",
                              report.figure if report and report.figure is not None else "",
                              {True: "是", False: "否"}.get(meets, "")]
    return ["最近回報月份", f"最近{label}", "達常態流量"], values


register_company_columns("adoption", order=20, columns=adoption_columns)
register_company_columns("usage", order=30, columns=usage_columns)


def write_usage(session: Session, pack) -> None:
    """企業流量清冊: every monthly report by ``as_of``, and its screenshots (系統截圖)."""
    ids = [c.id for c in pack.companies]
    index = {c.id: n for n, c in enumerate(pack.companies, start=1)}
    companies = {c.id: c for c in pack.companies}
    minimum = pack.program.usage_minimum
    reports = []
    for start in range(0, len(ids), 900):
        reports += session.exec(select(UsageReport).where(
            UsageReport.company_id.in_(ids[start:start + 900]), UsageReport.reported_at <= pack.as_of)).all()
    reports.sort(key=lambda r: (index[r.company_id], r.period))
    rows, shots = [], 0
    for report in reports:
        company = companies[report.company_id]
        names = []
        for n, shot in enumerate(session.exec(select(UsageScreenshot).where(UsageScreenshot.report_id == report.id)
                                              .order_by(UsageScreenshot.id)).all(), start=1):
            suffix = shot.mime.rsplit("/", 1)[-1].replace("jpeg", "jpg")
            name = f"{report.period}_{n}.{suffix}"
            pack.add_file(f"使用截圖/{index[company.id]:03d}_{safe_name(pack.company_label(company))}/{name}", shot.data)
            names.append(name)
        shots += len(names)
        rows.append([index[company.id], company.tax_id or "", pack.company_label(company),
                     service.period_label(report.period), report.figure if report.figure is not None else "",
                     report.minimum if report.minimum is not None else "",
                     {True: "是", False: "否"}.get(report.meets_minimum, ""), "、".join(names), roc(report.updated_at)])
    label = minimum.label if minimum else "使用量"
    header = ["序號", "統一編號", "企業名稱", "月份", label, "常態流量標準", "達標", "截圖", "回報日"]
    pack.add_workbook("企業流量清冊.xlsx", [("企業流量清冊", header, rows)])
    pack.counts["usage_reports"] = len(rows)
    pack.counts["usage_screenshots"] = shots


register_section("usage", order=40, title="企業流量清冊", write=write_usage)
