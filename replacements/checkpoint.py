"""What replacements contribute to the evidence pack: the 抽換紀錄 (with the 50 % rule's figures)
and the replacement columns of the company list."""
from __future__ import annotations

from sqlmodel import Session

from checkpoints.evidence import register_company_columns, register_section, roc
from letters.document import campaign_settings
from letters.service import summary
from replacements import service


def replacement_columns(session: Session, *, companies, program, as_of):
    found = {row.company_id: (row, successor) for row, _, successor in service.replacements(session, program_id=program.id)
             if row.replaced_at <= as_of}
    values = {}
    for company in companies:
        row, successor = found.get(company.id, (None, None))
        values[company.id] = [row.reason if row else "", service.company_name(successor) if successor else ""]
    return ["抽換原因", "接替企業"], values


register_company_columns("replacements", order=50, columns=replacement_columns)


def write_replacements(session: Session, pack) -> None:
    rows = []
    for index, (row, company, successor) in enumerate(service.replacements(session, program_id=pack.program.id), start=1):
        if row.replaced_at > pack.as_of:
            continue
        rows.append([index, company.tax_id or "", service.company_name(company), row.reason,
                     successor.tax_id or "" if successor else "", service.company_name(successor) if successor else "",
                     successor.letter_status == "signed" if successor else "", "是" if row.counted else "否",
                     roc(row.replaced_at)])
    figures = summary(session, program_id=pack.program.id, campaign=campaign_settings(pack.config, pack.program.id))
    ratio = figures["replacements"]
    header = ["序號", "被抽換企業統編", "被抽換企業", "原因", "接替企業統編", "接替企業", "接替企業已簽意向書",
              "計入抽換比例", "抽換日"]
    for row in rows:
        row[6] = {True: "是", False: "否"}.get(row[6], "")
    totals = [["入案後抽換（計入）", ratio["count"]], ["提案時意向書", ratio["base"]],
              ["抽換比例", f"{ratio['ratio']:.0%}"], ["上限", f"{ratio['limit']:.0%}"],
              ["符合規定", "是" if ratio["within_limit"] else "否"]]
    pack.add_workbook("抽換紀錄.xlsx", [("抽換紀錄", header, rows), ("抽換比例", ["項目", "數值"], totals)])
    pack.counts["replacements"] = len(rows)


register_section("replacements", order=60, title="抽換紀錄", write=write_replacements)
