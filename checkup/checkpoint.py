"""The check-up in the checkpoints: the metric ``checkup.level_up`` (companies whose level rose at
least one of 004's levels since their baseline — 004's 「提升企業數位程度 1 級」, for a unit that
puts it in its KPI table), the company list's level columns, and the evidence pack's 數位健檢.xlsx
(the 成果 report's before/after: levels, points per area, what improved, every answer)."""
from __future__ import annotations

from sqlmodel import Session

from checkpoints.evidence import EvidencePack, register_company_columns, register_section, roc
from checkpoints.metrics import MetricResult, register_metric
from checkup import service
from checkup.settings import checkup


def level_up(session: Session, *, program, as_of) -> MetricResult:
    from checkpoints.service import programme_companies

    companies = programme_companies(session, program_id=program.id, as_of=as_of)
    found = service.progress(session, company_ids=[c.id for c in companies], as_of=as_of)
    compared = {cid: entry for cid, entry in found.items() if entry.compared}
    return MetricResult(done=sum(1 for e in compared.values() if e.change >= 1),
                        per_company={c.id: c.id in compared and compared[c.id].change >= 1 for c in companies},
                        detail=f"做過健檢 {len(found)} 家、前後都做 {len(compared)} 家")


register_metric("checkup.level_up", level_up)


def level_columns(session: Session, *, companies, program, as_of):
    found = service.progress(session, company_ids=[c.id for c in companies], as_of=as_of)
    values = {}
    for company in companies:
        entry = found.get(company.id)
        values[company.id] = ([entry.baseline.level, entry.latest.level if entry.compared else ""]
                              if entry else ["", ""])
    return ["數位健檢基準等級", "數位健檢最新等級"], values


register_company_columns("checkup", order=90, columns=level_columns)


def write_checkup(session: Session, pack: EvidencePack) -> None:
    data = checkup()
    companies = [c for c in pack.companies if c.status == "active"]
    found = service.progress(session, company_ids=[c.id for c in companies], as_of=pack.as_of)
    header = ["序號", "統一編號", "企業名稱", "基準日期", "基準等級", "基準分數", "期末日期", "期末等級", "期末分數", "等級變化",
              *(f"{area.name}（基準→期末）" for area in data.areas), "進步項目"]
    rows, answers = [], []
    for index, company in enumerate(companies, start=1):
        entry = found.get(company.id)
        if entry is None:
            rows.append([index, company.tax_id or "", pack.company_label(company), "尚未填寫"])
            continue
        before, after = entry.baseline, entry.latest if entry.compared else None
        areas = [f"{before.areas.get(a.id, [0, 0])[0]}→{after.areas.get(a.id, [0, 0])[0]}" if after
                 else str(before.areas.get(a.id, [0, 0])[0]) for a in data.areas]
        moved = service.improvements(data, before.answers, after.answers) if after else []
        rows.append([index, company.tax_id or "", pack.company_label(company), roc(before.taken_at), before.level,
                     before.points, roc(after.taken_at) if after else "", after.level if after else "",
                     after.points if after else "", (after.level - before.level) if after else "", *areas,
                     "、".join(f"{q.ask.split('？')[0]}：{b}→{a}" for q, b, a in moved)])
        for question in data.questions:
            old = question.option(str(before.answers.get(question.id, "")))
            new = question.option(str(after.answers.get(question.id, ""))) if after else None
            answers.append([pack.company_label(company), data.area(question.area).name, question.ask,
                            old.text if old else "", new.text if new else ""])
    levels = [[lv.level, lv.name, lv.survey, lv.min_points] for lv in data.levels]
    pack.add_workbook("數位健檢.xlsx", [("前後比較", header, rows),
                                       ("作答明細", ["企業名稱", "面向", "題目", "基準作答", "期末作答"], answers),
                                       ("等級說明", ["等級", "說明", "中小企業數位程度調查", "最低分數"], levels)])
    compared = [e for e in found.values() if e.compared]
    pack.counts["checkup"] = {"taken": len(found), "compared": len(compared),
                              "level_up": sum(1 for e in compared if e.change >= 1)}


register_section("checkup", order=75, title="數位健檢", write=write_checkup)
