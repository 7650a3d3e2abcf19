"""前測／後測 on the checkpoints (002 捌 四 (七)): companies that completed each test by ``as_of``,
and the completion dates in the evidence pack's company list."""
from __future__ import annotations

from sqlmodel import Session

from assessments import service
from assessments.settings import parse_tests
from bot.timeutil import format_roc_date
from checkpoints.evidence import register_company_columns
from checkpoints.metrics import MetricResult, register_metric

SOURCE_LABELS = {"owner": "店家回報", "import": "計畫名單", "staff": "工作人員"}


def _completed(test: str):
    def provider(session: Session, *, program, as_of) -> MetricResult:
        from checkpoints.service import programme_companies

        companies = programme_companies(session, program_id=program.id, as_of=as_of)
        found = service.completions(session, company_ids=[c.id for c in companies], test=test, as_of=as_of)
        from_list = sum(1 for row in found.values() if row.source == "import")
        # Before the test opens no company can be behind on it: no per-company column yet.
        opened = (announced := parse_tests(program.campaign).get(test)) is not None and announced.opens <= as_of
        return MetricResult(done=len(found), per_company={c.id: (c.id, test) in found for c in companies}
                            if opened else None,
                            detail=f"計畫名單 {from_list} 家、店家回報 {len(found) - from_list} 家")
    return provider


register_metric("pretest.completed", _completed("pretest"))
register_metric("posttest.completed", _completed("posttest"))


def test_columns(session: Session, *, companies, program, as_of):
    found = service.completions(session, company_ids=[c.id for c in companies], as_of=as_of)
    values = {}
    for company in companies:
        row = []
        for test in ("pretest", "posttest"):
            done = found.get((company.id, test))
            row.append(f"{format_roc_date(done.completed_at)}（{SOURCE_LABELS.get(done.source, done.source)}）"
                       if done else "")
        values[company.id] = row
    return ["前測完成", "後測完成"], values


register_company_columns("assessments", order=80, columns=test_columns)
