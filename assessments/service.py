"""前測／後測 status per company: recorded from the owner's 「已完成」, the programme office's list
(import by 統編) or staff. Keyword-only functions over a session; the caller owns the transaction."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from assessments.models import Completion
from bot.db import insert_ignoring_duplicates, utc_now
from bot.timeutil import TAIPEI
from companies.models import Company, CompanyMember
from dialogs.parsing import parse_date
from eligibility.taxid import is_valid_tax_id, normalize_tax_id


def record(session: Session, *, company_id: int, test: str, source: str, recorded_by: str,
           completed_at: datetime | None = None) -> bool:
    """Record once; False when the company had it already (nothing changes then)."""
    statement = insert_ignoring_duplicates(Completion.__table__, session.get_bind().dialect.name,
                                           ("company_id", "test"), returning=("id",))
    now = utc_now()
    created = session.execute(statement, [{
        "company_id": company_id, "test": test, "completed_at": completed_at or now, "source": source,
        "recorded_by": recorded_by[:64], "created_at": now}]).first()
    return created is not None


def completions(session: Session, *, company_ids: list[int], test: str | None = None,
                as_of: datetime | None = None) -> dict[tuple[int, str], Completion]:
    found = {}
    for start in range(0, len(company_ids), 900):
        statement = select(Completion).where(Completion.company_id.in_(company_ids[start:start + 900]))
        if test:
            statement = statement.where(Completion.test == test)
        if as_of is not None:
            statement = statement.where(Completion.completed_at <= as_of)
        for row in session.exec(statement).all():
            found[(row.company_id, row.test)] = row
    return found


def pending_condition(test: str):
    """The company has not completed ``test`` (for SQL over companies)."""
    return ~sa.exists().where(Completion.company_id == Company.id, Completion.test == test)


def _signed_pending(program_id: str, test: str):
    return (Company.program_id == program_id, Company.status == "active", Company.letter_status == "signed",
            CompanyMember.role == "owner", pending_condition(test))


def pending_owner_ids(*, program_id: str, test: str):
    """SELECT of the owners still missing ``test`` (an audience rule: re-checked at send time)."""
    return (select(CompanyMember.line_user_id).join(Company, Company.id == CompanyMember.company_id)
            .where(*_signed_pending(program_id, test)))


def pending_owners(session: Session, *, program_id: str, test: str) -> list[tuple[int, str, str, str | None]]:
    """(company id, name, owner's LINE id, advisor) for signed, active companies not done yet."""
    return list(session.exec(
        select(Company.id, Company.name, CompanyMember.line_user_id, Company.advisor_line_user_id)
        .join(CompanyMember, CompanyMember.company_id == Company.id)
        .where(*_signed_pending(program_id, test)).order_by(Company.id, CompanyMember.id)).all())


def owner_companies(session: Session, *, line_user_id: str) -> list[Company]:
    """The companies this person is an owner of, signed ones first."""
    return list(session.exec(select(Company).join(CompanyMember, CompanyMember.company_id == Company.id)
                             .where(CompanyMember.line_user_id == line_user_id, CompanyMember.role == "owner",
                                    Company.status == "active")
                             .order_by((Company.letter_status == "signed").desc(), Company.id)).all())


def done_word(test_id: str) -> str:
    """What to type to record ``test_id`` (「已完成前測」); the button's word for any other test."""
    from bot.texts import t

    return t(f"assessments.done_word_{test_id}") if test_id in ("pretest", "posttest") else t("assessments.button_done")


def upcoming_for(session: Session, *, user_id: str, now: datetime, config) -> list[tuple[datetime, str]]:
    """The 前測／後測 sent to this owner's signed shop and not done yet, by their due date (「我的提醒」)."""
    from assessments.settings import tests_of
    from bot.texts import t

    companies = [c for c in owner_companies(session, line_user_id=user_id) if c.letter_status == "signed"]
    if not companies:
        return []
    company = companies[0]
    done = completions(session, company_ids=[company.id])
    return [(test.due, t("assessments.upcoming_line", title=test.title, word=done_word(test.id)))
            for test in tests_of(config, company.program_id).values()
            if test.is_open(now) and (company.id, test.id) not in done]


# --- the programme office's list -------------------------------------------------------------

TAX_HEADERS = ("統一編號", "統編", "tax_id", "taxid", "營利事業統一編號")
TEST_HEADERS = ("測驗", "類別", "項目", "評量", "test")
DATE_HEADERS = ("完成日期", "填寫日期", "完成時間", "填寫時間", "日期", "date", "completed_at")
TEST_WORDS = {"pretest": ("前測", "pretest", "pre"), "posttest": ("後測", "posttest", "post")}


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: list = field(default_factory=list)  # (line, 統編, why)
    unknown: list = field(default_factory=list)  # (line, 統編): no such company in the programme
    invalid: list = field(default_factory=list)  # (line, text, why)

    def as_dict(self) -> dict:
        return {"imported": self.imported, "duplicates": len(self.duplicates), "unknown": len(self.unknown),
                "invalid": len(self.invalid),
                "details": {"duplicates": [list(d) for d in self.duplicates], "unknown": [list(u) for u in self.unknown],
                            "invalid": [list(i) for i in self.invalid]}}


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower().lstrip("\ufeff") for h in header]
    for index, value in enumerate(lowered):
        if any(name.lower() in value for name in names):
            return index
    return None


def _test_of(text: str) -> str | None:
    value = (text or "").strip().lower()
    return next((test for test, words in TEST_WORDS.items() if any(w in value for w in words)), None)


def _date_of(text: str) -> datetime | None:
    day = parse_date(text, today=date.today()) if (text or "").strip() else None
    return datetime.combine(day, datetime.min.time().replace(hour=12), tzinfo=TAIPEI) if day else None


def import_list(session: Session, *, text: str, program_id: str, test: str | None, actor: str,
                known_tests: tuple[str, ...]) -> ImportReport:
    """Rows of the office's CSV: a 統編 column, and a test column unless ``test`` is given, and
    optionally the completion date. Unknown 統編 and repeats are reported, never stored."""
    report = ImportReport()
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        return report
    header = rows[0]
    tax_col, test_col, date_col = _column(header, TAX_HEADERS), _column(header, TEST_HEADERS), _column(header, DATE_HEADERS)
    if tax_col is None:
        raise ValueError("no 統一編號 column")
    if test is None and test_col is None:
        raise ValueError("no test column: give --test")
    companies = dict(session.exec(select(Company.tax_id, Company.id).where(
        Company.program_id == program_id, Company.tax_id.is_not(None))).all())
    seen = set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = lambda index: row[index] if index is not None and index < len(row) else ""  # noqa: E731
        tax_id = normalize_tax_id(cell(tax_col))
        which = test or _test_of(cell(test_col))
        if not is_valid_tax_id(tax_id):
            report.invalid.append((line, cell(tax_col)[:20], "統一編號不正確"))
            continue
        if which not in known_tests:
            report.invalid.append((line, cell(test_col)[:20], "看不出是前測還是後測"))
            continue
        if tax_id not in companies:
            report.unknown.append((line, tax_id))
            continue
        if (tax_id, which) in seen:
            report.duplicates.append((line, tax_id, "檔案內重複"))
            continue
        seen.add((tax_id, which))
        if record(session, company_id=companies[tax_id], test=which, source="import", recorded_by=actor,
                  completed_at=_date_of(cell(date_col))):
            report.imported += 1
        else:
            report.duplicates.append((line, tax_id, "先前已記錄"))
    return report
