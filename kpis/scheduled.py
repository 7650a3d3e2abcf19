"""The monthly ask for the custom KPIs (scheduler.service.DIGEST_HANDLERS ``kpi_ask``; monthly
milestones ``kpi_report`` in programs.yaml): owners of signed, active companies that have not
given last month's figures get one push with a 「回報績效」 button bound to the company and month.
Runs inside the tick's claiming transaction: once per owner and month whatever the number of
ticks or schedulers; held in quiet hours by the tick; re-checked when due (an owner who reported
meanwhile is not asked)."""
from __future__ import annotations

from bot.messages import Choice, Text, encode_postback
from bot.texts import t
from kpis import service
from kpis.settings import parse_indicators
from scheduler import audiences


def kpi_ask(materialiser, row, schedule, milestone) -> None:
    session = materialiser.session
    indicators = parse_indicators((schedule.raw or {}).get("campaign"))
    if not indicators:
        return materialiser.skip(row, "no custom kpis")
    period = milestone.options.get("period") or service.previous_period(milestone.at)
    pending = service.pending_owners(session, program_id=schedule.program_id, period=period,
                                     indicator_ids=tuple(i.id for i in indicators))
    reachable = audiences.reachable(session, [owner for _, _, owner in pending])
    names = "、".join(i.name for i in indicators)
    asked = 0
    for company_id, name, owner in pending:
        if owner not in reachable:
            continue
        text = t("kpis.ask_push", company=name or "", period=service.period_label(period), names=names)
        button = Choice(t("kpis.ask_button"), data=encode_postback(c="kpi_report", arg=f"{company_id}:{period}"),
                        display=t("kpis.ask_button"))
        materialiser.pushes.append((owner, [Text(text, (button,))], f"rem:{row.key}:{owner}:{company_id}"))
        asked += 1
    materialiser.done(row, f"{asked} owners asked")
