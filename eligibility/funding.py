"""No double funding, beyond asking: the funded-business register.

Staff import the list of businesses already helped (e.g. the 雲市集 受輔導記錄 lookup: a CSV of
統編, name, programme, year) with ``flask --app bot funding import FILE``. At verdict time a
match by 統編 is classified by the programme's ``eligibility.funding_register`` rules in
programs.yaml (002 叁 輔導對象限制條件 1、2): the first rule a record matches gives its outcome,
anything else is ``otherwise`` (a staff check). The classifying part is pure; the database
part is a lookup injected into the chat and the API.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import click
from flask.cli import with_appcontext
from sqlmodel import Session, select

from dialogs.parsing import ROC_OFFSET, normalize

from .engine import INELIGIBLE, NEEDS_REVIEW, ProgramRules, Reason, Verdict
from .models import FundedBusiness
from .taxid import normalize_tax_id, tax_id_problem


@dataclass(frozen=True)
class FundedRecord:
    """A register row as the pure code sees it (no ORM object crosses into the engine)."""

    tax_id: str
    name: str | None
    programme: str
    year_roc: int | None


FundingLookup = Callable[[str], Sequence[FundedRecord]]

# --- classification (pure) ------------------------------------------------------------------

_DEFAULT_OTHERWISE = {"code": "funded_record_check", "outcome": NEEDS_REVIEW,
                      "message": "{record}", "source": ""}


def register_rules(program: ProgramRules) -> Mapping:
    return (program.data.get("eligibility") or {}).get("funding_register") or {}


def _matches(rule: Mapping, record: FundedRecord, program: ProgramRules) -> bool:
    words = rule.get("programme_contains")
    if words and not any(_fold(w) in _fold(record.programme) for w in words):
        return False
    years = rule.get("years")
    if years:
        if record.year_roc is None or not years.get("min", -10**6) <= record.year_roc <= years.get("max", 10**6):
            return False
    if rule.get("same_year") and (record.year_roc is None or record.year_roc != program.year_roc):
        return False
    return bool(words or years or rule.get("same_year"))


def _fold(text: str) -> str:
    return normalize(text).replace("台", "臺")


def describe(record: FundedRecord) -> str:
    year = f"{record.year_roc}年" if record.year_roc else "年度不明"
    name = f"（{record.name}）" if record.name else ""
    return f"{year}「{record.programme}」{name}"


def classify(*, program: ProgramRules, records: Iterable[FundedRecord]) -> list[tuple[str, Reason]]:
    """(outcome, reason citing the record) for each register record of this business."""
    config = register_rules(program)
    found = []
    for record in records:
        rule = next((r for r in config.get("rules") or () if _matches(r, record, program)), None)
        rule = rule or config.get("otherwise") or _DEFAULT_OTHERWISE
        message = str(rule.get("message", "{record}")).format(record=describe(record))
        found.append((rule.get("outcome", NEEDS_REVIEW),
                      Reason(code=rule.get("code", "funded_record_check"), message=message,
                             source=rule.get("source") or config.get("source", ""))))
    return found


def apply_register(*, program: ProgramRules, verdict: Verdict,
                   records: Iterable[FundedRecord]) -> Verdict:
    """The engine's verdict, made stricter by register matches (a hard ineligibility outranks
    needs_review; an eligible verdict's info reasons are kept)."""
    found = classify(program=program, records=records)
    if not found:
        return verdict
    ineligible = [r for o, r in found if o == INELIGIBLE]
    review = [r for o, r in found if o != INELIGIBLE]
    if verdict.verdict == INELIGIBLE or ineligible:
        base = verdict.reasons if verdict.verdict == INELIGIBLE else []
        return Verdict(INELIGIBLE, [*base, *ineligible])
    base = verdict.reasons if verdict.verdict == NEEDS_REVIEW else []
    return Verdict(NEEDS_REVIEW, [*base, *review])


# --- reading the list (pure) ----------------------------------------------------------------

_HEADERS = {
    "tax_id": ("統一編號", "統編", "tax_id", "taxid", "ban", "營利事業統一編號"),
    "name": ("名稱", "企業名稱", "公司名稱", "營業人名稱", "name", "company"),
    "programme": ("計畫", "計畫名稱", "輔導計畫", "補助計畫", "programme", "program"),
    "year": ("年度", "年", "year", "輔導年度"),
}


def parse_year(text: object) -> int | None:
    """'112' / '112年' / '民國112年' / '2023' -> 112 (ROC); '' -> None; nonsense -> ValueError."""
    raw = unicodedata.normalize("NFKC", str(text or "")).strip()
    if not raw:
        return None
    match = re.fullmatch(r"(?:民國)?\s*(\d{2,4})\s*(?:年度?)?", raw)
    if not match:
        raise ValueError(raw)
    value = int(match.group(1))
    value = value - ROC_OFFSET if value >= 1912 else value
    if not 80 <= value <= 200:
        raise ValueError(raw)
    return value


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, zh-TW reason)

    def lines(self) -> list[str]:
        out = [f"匯入 {self.imported} 筆，重複 {self.duplicates} 筆，略過 {len(self.skipped)} 筆。"]
        out += [f"  第 {line} 行：{why}" for line, why in self.skipped]
        return out


def _column_map(header: Sequence[str]) -> dict[str, int]:
    folded = [_fold(h).lstrip("\ufeff") for h in header]
    found = {}
    for key, names in _HEADERS.items():
        for index, name in enumerate(folded):
            if name in {_fold(n) for n in names}:
                found[key] = index
                break
    return found


def read_rows(text: str) -> tuple[list[tuple[int, FundedRecord]], list[tuple[int, str]]]:
    """CSV text -> (line number, record) pairs and (line, reason) for rows that can't be used.
    A header row naming the columns is used when present; else the order 統編, name, programme, year."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    good, bad = [], []
    if not rows:
        return good, bad
    columns = _column_map(rows[0])
    start = 1 if "tax_id" in columns else 0
    if start == 0:
        columns = {"tax_id": 0, "name": 1, "programme": 2, "year": 3}
    for line, row in enumerate(rows[start:], start=start + 1):
        if not any(cell.strip() for cell in row):
            continue
        cell = lambda key: row[columns[key]].strip() if key in columns and columns[key] < len(row) else ""  # noqa: E731
        tax_id = normalize_tax_id(cell("tax_id"))
        problem = tax_id_problem(tax_id)
        if problem:
            bad.append((line, f"統一編號「{cell('tax_id')}」有誤：{problem}"))
            continue
        programme = cell("programme")
        if not programme:
            bad.append((line, "缺少計畫名稱"))
            continue
        try:
            year = parse_year(cell("year"))
        except ValueError:
            bad.append((line, f"年度「{cell('year')}」看不懂"))
            continue
        good.append((line, FundedRecord(tax_id=tax_id, name=cell("name")[:200] or None,
                                        programme=programme[:200], year_roc=year)))
    return good, bad


# --- database -------------------------------------------------------------------------------

def import_register(session: Session, *, text: str, source: str | None = None) -> ImportReport:
    """Store every usable row once (same 統編 + programme + year again = duplicate)."""
    report = ImportReport()
    good, report.skipped = read_rows(text)
    seen = set()
    for _, record in good:
        key = (record.tax_id, record.programme, record.year_roc)
        existing = session.exec(select(FundedBusiness.id).where(
            FundedBusiness.tax_id == record.tax_id, FundedBusiness.programme == record.programme,
            FundedBusiness.year_roc == record.year_roc if record.year_roc is not None
            else FundedBusiness.year_roc.is_(None))).first()
        if existing is not None or key in seen:
            report.duplicates += 1
            continue
        seen.add(key)
        session.add(FundedBusiness(tax_id=record.tax_id, name=record.name, programme=record.programme,
                                   year_roc=record.year_roc, source=(source or "")[:200] or None))
        report.imported += 1
    session.flush()
    return report


def find_records(session: Session, *, tax_id: str) -> list[FundedRecord]:
    rows = session.exec(select(FundedBusiness).where(FundedBusiness.tax_id == normalize_tax_id(tax_id))
                        .order_by(FundedBusiness.id)).all()
    return [FundedRecord(r.tax_id, r.name, r.programme, r.year_roc) for r in rows]


def database_lookup(database) -> FundingLookup:
    """A lookup for the API (its own short read transaction)."""
    def lookup(tax_id: str) -> list[FundedRecord]:
        with database.session() as session:
            return find_records(session, tax_id=tax_id)
    return lookup


# --- CLI ------------------------------------------------------------------------------------

@click.group("funding", help="已受輔導企業名單（避免重複補助）。")
def funding_cli() -> None:
    pass


@funding_cli.command("import", help="匯入 CSV（統編, 名稱, 計畫, 年度），例如雲市集受輔導記錄。")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_command(file: Path) -> None:
    from flask import current_app

    raw = file.read_bytes()
    for encoding in ("utf-8-sig", "cp950", "big5"):  # Excel in Taiwan often saves Big5
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise click.ClickException("檔案編碼無法辨識（請存成 UTF-8 的 CSV）。")
    database = current_app.extensions["bot"].database
    with database.write_session() as session:
        report = import_register(session, text=text, source=file.name)
    for line in report.lines():
        click.echo(line)
