"""Custom KPIs on the staff dashboard: GET /staff/kpis (each indicator against its target, its
month-by-month trend, every company's baseline and months, the check-up levels; ``?advisor=``
narrows it to one advisor's companies) and GET /staff/api/kpis (the same as JSON, bearer)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

from bot.db import utc_now
from checkpoints.routes import _program
from kpis import service
from kpis.flows import fmt
from kpis.settings import BASELINE, parse_indicators
from staff.auth import require_staff
from staff.routes import _globals

bp = Blueprint("kpis", __name__, url_prefix="/staff", template_folder="templates")
bp.context_processor(_globals)


def trend(session, *, program, advisor: str | None = None) -> dict:
    """Per indicator: the KPI now and month by month (figures of months up to each), its target,
    and per company the baseline, each month and its contribution."""
    from checkpoints.service import programme_companies
    from checkup.service import level_text, progress
    from staff.service import team_names

    companies = programme_companies(session, program_id=program.id)
    if advisor:
        companies = [c for c in companies if c.advisor_line_user_id == advisor]
    found = service.series(session, company_ids=[c.id for c in companies])
    months = sorted({p for per in found.values() for periods in per.values() for p in periods if p != BASELINE})
    kpis = {k.metric: k for k in program.kpis}
    names = team_names(session)
    levels = progress(session, company_ids=[c.id for c in companies])
    indicators = []
    for indicator in parse_indicators(program.campaign):
        kpi = kpis.get(indicator.metric)

        def upto(month: str, company_id: int):
            periods = found.get(company_id, {}).get(indicator.id) or {}
            return {p: row for p, row in periods.items() if p == BASELINE or p <= month}

        by_month = []
        for month in months:
            values = [v for c in companies if (v := service.contribution(indicator, upto(month, c.id))) is not None]
            by_month.append({"period": month, "label": service.period_label(month),
                             "value": service.combine(indicator, values), "companies": len(values)})
        values = [v for c in companies if (v := service.contribution(indicator, found.get(c.id, {}).get(indicator.id)))
                  is not None]
        done = service.combine(indicator, values)
        target = kpi.target if kpi else None
        rows = []
        for company in companies:
            periods = found.get(company.id, {}).get(indicator.id) or {}
            if not periods:
                continue
            part = service.contribution(indicator, periods)
            rows.append({"company_id": company.id, "company": company.name or company.tax_id or f"#{company.id}",
                         "baseline": periods[BASELINE].value if BASELINE in periods else None,
                         "months": {m: periods[m].value for m in months if m in periods},
                         "approximate": any(r.approximate for r in periods.values()),
                         "contribution": part})
        indicators.append({
            "id": indicator.id, "metric": indicator.metric, "aspect": indicator.aspect_name, "name": indicator.name,
            "label": kpi.label if kpi else indicator.name, "unit": kpi.unit if kpi else indicator.unit,
            "input_unit": indicator.unit, "aggregate": indicator.aggregate, "target": target, "done": done,
            "percent": min(100, round(100 * done / target)) if target else None,
            "reported": sum(1 for c in companies if found.get(c.id, {}).get(indicator.id)),
            "by_month": by_month, "companies": rows})
    return {"program": program.id, "as_of": utc_now().isoformat(), "advisor": advisor,
            "months": [{"period": m, "label": service.period_label(m)} for m in months],
            "companies": [{"id": c.id, "name": c.name or c.tax_id or f"#{c.id}",
                           "advisor": names.get(c.advisor_line_user_id or "", "") if c.advisor_line_user_id else "",
                           "checkup": level_text(levels.get(c.id))} for c in companies],
            "advisors": sorted({(c.advisor_line_user_id, names.get(c.advisor_line_user_id, "") or c.advisor_line_user_id[-4:])
                                for c in programme_companies(session, program_id=program.id)
                                if c.advisor_line_user_id}, key=lambda a: a[1]),
            "indicators": indicators}


def _requested() -> tuple:
    """The programme (?program=, 404 if unknown) and its trend for ?advisor= (or everyone)."""
    program = _program()
    with current_app.extensions["bot"].database.read_session() as session:
        return program, trend(session, program=program, advisor=request.args.get("advisor") or None)


@bp.get("/api/kpis")
@require_staff
def api():
    _, data = _requested()
    data["advisors"] = [{"id": a, "name": n} for a, n in data["advisors"]]
    return jsonify(data)


@bp.get("/kpis")
@require_staff
def page():
    program, data = _requested()
    return render_template("kpis/kpis.html", program=program, data=data, fmt=fmt)
