"""The evidence pack for a checkpoint: one zip with what the programme office asks for (002 附件一
肆 二 佐證資料; 捌 四 (三) 3: 請款 needs the usage records and the results): the KPI table, the
company list with each company's letter, adoption and usage status, visit records with photos,
the letters' PDFs, usage screenshots, replacements — and whatever later rooms add.

Extensible like the metrics: a provider module (checkpoints.metrics.PROVIDER_MODULES) registers

    register_section("activities", order=70, title="活動簽到表", write=write_signin_sheets)
    # write(session, pack) -> None; pack.add_workbook("活動簽到表.xlsx", [(sheet, header, rows)])
    #                                pack.add_file("活動照片/0001.jpg", data)

    register_company_columns("pretest", order=60, columns=pretest_columns)
    # columns(session, *, companies, program, as_of) -> (header, {company_id: [values]})

Each section's files are numbered in section order (「03_輔導紀錄/…」), so the zip reads in the
order the office checks them. Everything is read in one read-only snapshot (Database.read_session):
building the pack never holds back a webhook ack.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlmodel import Session

from bot.spreadsheet import spreadsheet_xlsx
from bot.timeutil import format_roc_date, format_roc_datetime, to_taipei
from checkpoints.metrics import load_providers
from checkpoints.settings import Checkpoint, Programme


@dataclass(frozen=True)
class Section:
    name: str
    order: int
    title: str
    write: Callable[[Session, "EvidencePack"], None]


@dataclass(frozen=True)
class CompanyColumns:
    name: str
    order: int
    columns: Callable[..., tuple[list[str], dict[int, list]]]


SECTIONS: dict[str, Section] = {}
COMPANY_COLUMNS: dict[str, CompanyColumns] = {}


def register_section(name: str, *, order: int, title: str, write: Callable) -> Section:
    section = SECTIONS[name] = Section(name, order, title, write)
    return section


def register_company_columns(name: str, *, order: int, columns: Callable) -> CompanyColumns:
    group = COMPANY_COLUMNS[name] = CompanyColumns(name, order, columns)
    return group


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe_name(text: str, limit: int = 40) -> str:
    """A file or folder name Windows accepts (company names may hold / or ?)."""
    return (_UNSAFE.sub("_", str(text or "")).strip(" .") or "_")[:limit]


@dataclass
class PackFile:
    path: str
    size: int


@dataclass
class EvidencePack:
    """Handed to each section: what the pack is for, and where its files go."""

    archive: zipfile.ZipFile
    program: Programme
    checkpoint: Checkpoint
    as_of: datetime
    config: dict
    report: dict  # checkpoints.service.report(...) at as_of
    companies: list  # checkpoints.service.programme_companies at as_of, plus replaced/withdrawn ones
    files: list[PackFile] = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # figures a section reports (the CLI prints them)
    notes: list[str] = field(default_factory=list)  # zh-TW lines for the pack's 說明.txt
    _prefix: str = ""

    def _path(self, path: str) -> str:
        return f"{self._prefix}{path}" if self._prefix else path

    def add_file(self, path: str, data: bytes) -> str:
        full = self._path(path)
        self.archive.writestr(full, data)
        self.files.append(PackFile(full, len(data)))
        return full

    def add_workbook(self, path: str, sheets: list[tuple[str, list, list]]) -> str:
        return self.add_file(path, spreadsheet_xlsx(sheets))

    def company_label(self, company) -> str:
        return company.name or company.tax_id or f"#{company.id}"


@dataclass
class PackSummary:
    path: str | None
    program: str
    checkpoint: int
    as_of: str
    files: list[dict]
    counts: dict

    def as_dict(self) -> dict:
        return {"path": self.path, "program": self.program, "checkpoint": self.checkpoint, "as_of": self.as_of,
                "files": self.files, "counts": self.counts}


def pack_name(program: Programme, checkpoint: Checkpoint, as_of: datetime) -> str:
    return f"evidence-{program.id}-checkpoint{checkpoint.number}-{to_taipei(as_of):%Y%m%d}.zip"


def build_pack(session: Session, target, *, program: Programme, checkpoint: Checkpoint, as_of: datetime,
               config: dict) -> EvidencePack:
    """Write the pack as a zip into ``target`` (a path or a binary file object)."""
    from checkpoints import service

    load_providers()
    report = service.report(session, program=program, as_of=as_of)
    companies = service.listed_companies(session, program_id=program.id, as_of=as_of)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        pack = EvidencePack(archive=archive, program=program, checkpoint=checkpoint, as_of=as_of, config=config,
                            report=report, companies=companies)
        for number, section in enumerate(sorted(SECTIONS.values(), key=lambda s: (s.order, s.name)), start=1):
            pack._prefix = f"{number:02d}_"
            section.write(session, pack)
        pack._prefix = ""
        pack.add_file("00_說明.txt", _readme(pack).encode("utf-8"))
    return pack


def _readme(pack: EvidencePack) -> str:
    lines = [f"{pack.program.name} 第{pack.checkpoint.number}次查核點佐證資料",
             f"查核點：{format_roc_datetime(pack.checkpoint.at)}　資料截至：{format_roc_datetime(pack.as_of)}",
             "", "內容："]
    lines += [f"・{item.path}" for item in pack.files]
    if pack.notes:
        lines += ["", "注意：", *(f"・{note}" for note in pack.notes)]
    return "\r\n".join(lines) + "\r\n"


# --- built-in sections: the KPI table and the company list ---------------------------------------

STATUS_LABELS = {"done": "已達成", "on_track": "進度符合", "behind": "落後", "not_tracked": "尚未追蹤"}


def kpi_sheet(pack: EvidencePack) -> tuple[str, list, list]:
    numbers = [c.number for c in pack.program.checkpoints]
    header = ["項目", "單位", "全程目標", *(f"第{n}次查核點應達成" for n in numbers), "目前完成", "狀態", "佐證資料",
              "依據"]
    rows = []
    for kpi in pack.report["kpis"]:
        rows.append([kpi["label"], kpi["unit"], kpi["target"],
                     *(kpi["due_by_checkpoint"].get(str(n)) for n in numbers),
                     kpi["done"] if kpi["done"] is not None else "尚未追蹤", STATUS_LABELS[kpi["status"]],
                     kpi["evidence"], kpi["source"]])
    return "績效指標", header, rows


def _write_kpis(session: Session, pack: EvidencePack) -> None:
    name, header, rows = kpi_sheet(pack)
    pack.add_workbook("查核點績效指標.xlsx", [(name, header, rows)])
    pack.counts["kpis"] = len(rows)


COMPANY_STATUS = {"active": "輔導中", "replaced": "已抽換", "withdrawn": "已退出"}


def company_sheet(session: Session, pack: EvidencePack) -> tuple[str, list, list]:
    from staff.service import team_names

    names = team_names(session)
    header = ["序號", "統一編號", "企業名稱", "縣市", "專案顧問", "輔導狀態"]
    extra: dict[int, list] = {c.id: [] for c in pack.companies}
    for group in sorted(COMPANY_COLUMNS.values(), key=lambda g: (g.order, g.name)):
        titles, values = group.columns(session, companies=pack.companies, program=pack.program, as_of=pack.as_of)
        header += titles
        for company in pack.companies:
            extra[company.id] += values.get(company.id) or [""] * len(titles)
    rows = [[index, company.tax_id or "", company.name or "", company.county or "",
             names.get(company.advisor_line_user_id or "", "") if company.advisor_line_user_id else "",
             COMPANY_STATUS.get(company.status, company.status), *extra[company.id]]
            for index, company in enumerate(pack.companies, start=1)]
    return "輔導企業清冊", header, rows


def _write_companies(session: Session, pack: EvidencePack) -> None:
    name, header, rows = company_sheet(session, pack)
    pack.add_workbook("輔導企業清冊.xlsx", [(name, header, rows)])
    pack.counts["companies"] = len(rows)


register_section("kpis", order=10, title="查核點績效指標", write=_write_kpis)
register_section("companies", order=20, title="輔導企業清冊", write=_write_companies)


def roc(moment) -> str:
    """A date or datetime as the forms print it (112/07/20), '' for none."""
    if moment is None:
        return ""
    return format_roc_date(moment)


def export_to_folder(database, folder, *, program: Programme, checkpoint: Checkpoint, as_of: datetime,
                     config: dict, actor: str) -> PackSummary:
    """Build the pack into ``folder`` (CLI); audited like every export of personal data."""
    path = folder / pack_name(program, checkpoint, as_of)
    with database.read_session() as session:
        pack = build_pack(session, path, program=program, checkpoint=checkpoint, as_of=as_of, config=config)
    record_export(database, actor=actor, program=program, checkpoint=checkpoint, pack=pack)
    return summarise(pack, str(path))


def export_to_bytes(database, *, program: Programme, checkpoint: Checkpoint, as_of: datetime, config: dict,
                    actor: str) -> tuple[bytes, PackSummary]:
    """Build the pack in memory (the dashboard's download)."""
    buffer = io.BytesIO()
    with database.read_session() as session:
        pack = build_pack(session, buffer, program=program, checkpoint=checkpoint, as_of=as_of, config=config)
    record_export(database, actor=actor, program=program, checkpoint=checkpoint, pack=pack)
    return buffer.getvalue(), summarise(pack, None)


def summarise(pack: EvidencePack, path: str | None) -> PackSummary:
    return PackSummary(path=path, program=pack.program.id, checkpoint=pack.checkpoint.number,
                       as_of=to_taipei(pack.as_of).isoformat(),
                       files=[{"path": f.path, "size": f.size} for f in pack.files], counts=dict(pack.counts))


def record_export(database, *, actor: str, program: Programme, checkpoint: Checkpoint, pack: EvidencePack) -> None:
    from bot.services import audit

    with database.write_session() as session:
        audit(session, actor=actor, action="export_evidence", target=f"checkpoint:{checkpoint.number}",
              program=program.id, files=len(pack.files))
