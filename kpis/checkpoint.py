"""Custom KPIs in the checkpoints: a metric ``custom.<id>`` per indicator of each programme's
campaign (registered for every id in programs.yaml, so a KPI table row ``metric: custom.sales``
is tracked), and the evidence pack's 自訂績效指標.xlsx: the totals, each company's baseline, months
and contribution, and every figure as typed (「大約 3 萬」) with who reported it and when."""
from __future__ import annotations

from sqlmodel import Session

from bot.timeutil import format_roc_datetime
from checkpoints.evidence import EvidencePack, register_section
from checkpoints.metrics import METRICS, MetricResult, register_metric
from kpis import service
from kpis.flows import fmt
from kpis.settings import BASELINE, Indicator, parse_indicators


def kpi_figures(session: Session, *, program, as_of) -> dict[str, tuple[float, dict[int, float], int]]:
    """{indicator id: (KPI value, {company id: contribution}, companies reported)} as of ``as_of``."""
    from checkpoints.service import programme_companies

    companies = programme_companies(session, program_id=program.id, as_of=as_of)
    found = service.series(session, company_ids=[c.id for c in companies], as_of=as_of)
    result = {}
    for indicator in parse_indicators(program.campaign):
        parts = {c.id: value for c in companies
                 if (value := service.contribution(indicator, found.get(c.id, {}).get(indicator.id))) is not None}
        reported = sum(1 for c in companies if found.get(c.id, {}).get(indicator.id))
        result[indicator.id] = (service.combine(indicator, list(parts.values())), parts, reported)
    return result


def _provider(indicator_id: str):
    def provider(session: Session, *, program, as_of) -> MetricResult:
        indicators = {i.id: i for i in parse_indicators(program.campaign)}
        if indicator_id not in indicators:
            return MetricResult(done=0, detail="計畫未設定此指標")
        done, parts, reported = kpi_figures(session, program=program, as_of=as_of)[indicator_id]
        # Not a per-company duty (the target is the programme's total): no per-company column.
        return MetricResult(done=done, per_company=None, detail=f"{reported} 家回報、{len(parts)} 家可計算")
    return provider


def register_indicators(programmes) -> None:
    """A metric for every indicator id of every programme (called with the loaded programmes)."""
    for program in programmes:
        for indicator in parse_indicators(program.campaign):
            if indicator.metric not in METRICS:
                register_metric(indicator.metric, _provider(indicator.id))


def _register_from_file() -> None:
    from flask import current_app, has_app_context

    from checkpoints.settings import programmes

    if has_app_context():
        register_indicators(programmes(current_app.config).values())
    else:  # the CLI and tests import providers inside an app; the shipped file otherwise
        from bot.config import REPO_ROOT

        register_indicators(programmes({"PROGRAMS_FILE": str(REPO_ROOT / "programs" / "programs.yaml")}).values())


_register_from_file()


def _aggregate_label(indicator: Indicator) -> str:
    return {"growth": "各店（最近一個月 − 參加前）加總", "reduction": "各店（參加前 − 最近一個月）平均",
            "latest": "各店最近一個月加總"}[indicator.aggregate]


def write_kpis(session: Session, pack: EvidencePack) -> None:
    indicators = parse_indicators(pack.program.campaign)
    if not indicators:
        return
    totals = kpi_figures(session, program=pack.program, as_of=pack.as_of)
    kpis = {k.metric: k for k in pack.program.kpis}
    summary = []
    for indicator in indicators:
        kpi = kpis.get(indicator.metric)
        done, parts, reported = totals[indicator.id]
        summary.append([indicator.aspect_name, kpi.label if kpi else indicator.name, kpi.unit if kpi else indicator.unit,
                        kpi.target if kpi else "", done, reported, len(parts), _aggregate_label(indicator),
                        kpi.evidence if kpi else ""])
    companies = [c for c in pack.companies if c.status == "active"]
    found = service.series(session, company_ids=[c.id for c in companies], as_of=pack.as_of)
    months = sorted({p for per in found.values() for periods in per.values() for p in periods if p != BASELINE})
    by_company, raw = [], []
    for indicator in indicators:
        for company in companies:
            periods = found.get(company.id, {}).get(indicator.id) or {}
            if not periods:
                continue
            contribution = service.contribution(indicator, periods)
            by_company.append([indicator.aspect_name, indicator.name, indicator.unit, company.tax_id or "",
                               pack.company_label(company),
                               periods[BASELINE].value if BASELINE in periods else "",
                               *((periods[m].value if m in periods else "") for m in months),
                               fmt(contribution) if contribution is not None else ""])
            for period, row in sorted(periods.items()):
                raw.append([pack.company_label(company), indicator.name, "參加前" if period == BASELINE else
                            service.period_label(period), row.value, indicator.unit, "是" if row.approximate else "",
                            row.said, format_roc_datetime(row.reported_at), row.revisions])
    pack.add_workbook("自訂績效指標.xlsx", [
        ("指標總表", ["面向", "指標", "單位", "全程目標", "目前達成", "回報家數", "可計算家數", "計算方式", "佐證資料"], summary),
        ("各店數字", ["面向", "指標", "回報單位", "統一編號", "企業名稱", "參加前", *(service.period_label(m) for m in months),
                  "本店貢獻（指標單位）"], by_company),
        ("回報明細", ["企業名稱", "指標", "期間", "數字", "單位", "約略", "店家原話", "回報時間", "修改次數"], raw)])
    pack.counts["custom_kpis"] = {i.id: totals[i.id][0] for i in indicators}


register_section("custom_kpis", order=78, title="自訂績效指標", write=write_kpis)
