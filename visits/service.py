"""Logged visits: keyword-only functions over a session (the caller owns the transaction).

A logged visit is a ``visits.models.Visit`` with status "done"; it counts toward the visit rule
(seed 002 叁 基本工作項目: 專案顧問輔導每家至少 3 次，現地輔導不得少於 1 次，並建立企業個案輔導紀錄).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
import yaml
from bot.spreadsheet import spreadsheet_csv
from bot.texts import t
from sqlmodel import Session, select

from bot.db import utc_now
from bot.timeutil import TAIPEI, format_roc_date, to_taipei
from companies.models import Company
from visits.models import Visit
from visits.photos import VisitPhoto, sniff_mime
from visits.progress import VisitProgress, visit_progress

EDIT_WINDOW = timedelta(hours=24)  # issue 7: 「修改」「刪除」 work for 24 hours after logging
MODES = ("onsite", "online", "phone")
# Used only when programs.yaml has no ``visit_rules`` for the programme:
# seed 002 叁 基本工作項目 — 專案顧問輔導每家至少 3 次，現地輔導不得少於 1 次.
DEFAULT_VISIT_RULES = {"min_total": 3, "min_onsite": 1, "source": "002 叁 基本工作項目"}


def mode_label(mode: str) -> str:
    """現地 / 線上 / 電話 (an unknown mode as stored)."""
    return t(f"visits.mode_{mode}") if mode in MODES else mode


class VisitError(Exception):
    """A refused change; ``code`` names the reason (not_found, not_yours, too_late)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class VisitRules:
    min_total: int
    min_onsite: int
    source: str


@lru_cache(maxsize=8)
def _programs_doc(path: str, mtime: float) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def programs_doc(config) -> dict:
    path = str(config.get("PROGRAMS_FILE") or "")
    if not path or not Path(path).exists():
        return {}
    return _programs_doc(path, Path(path).stat().st_mtime)


def parse_visit_rules(raw: dict | None) -> VisitRules:
    """A programme's ``visit_rules`` section (also read by visits.checkpoint for the checkpoint KPIs)."""
    merged = {**DEFAULT_VISIT_RULES, **{k: v for k, v in (raw or {}).items() if v is not None}}
    return VisitRules(int(merged["min_total"]), int(merged["min_onsite"]),
                      str(merged["source"] or DEFAULT_VISIT_RULES["source"]))


def visit_rules(config, program_id: str = "gonghao-2023") -> VisitRules:
    """The programme's visit thresholds from programs.yaml ``visit_rules`` (data, not code)."""
    programme = (programs_doc(config).get("programs") or {}).get(program_id) or {}
    return parse_visit_rules(programme.get("visit_rules"))


# --- companies an advisor looks after -------------------------------------------------------

def advisor_companies(session: Session, *, advisor: str) -> list[Company]:
    return list(session.exec(select(Company).where(Company.advisor_line_user_id == advisor,
                                                   Company.status == "active").order_by(Company.id)).all())


def assigned_shop_named(session: Session, *, advisor: str, text: str) -> Company | None:
    """The one shop assigned to ``advisor`` that ``text`` names (「阿明咖啡館有在用POS嗎」), else None.
    Only the advisor's own shops are looked at, so nothing tells whether another one exists."""
    from visits.parse import CompanyRef, match_companies

    companies = advisor_companies(session, advisor=advisor)
    named = match_companies(text, [CompanyRef(c.id, c.name or "", c.tax_id) for c in companies], near=False)
    return next((c for c in companies if c.id == named[0]), None) if len(named) == 1 else None


def company_choices(companies: list[Company]) -> list[dict]:
    """Small JSON-able records a conversation keeps so its steps stay pure."""
    return [{"id": c.id, "name": c.name or (c.tax_id or f"#{c.id}"), "tax_id": c.tax_id} for c in companies]


def assign_company(session: Session, *, company_id: int, advisor: str | None, actor: str) -> Company:
    from bot.services import audit

    company = session.get(Company, company_id)
    if company is None:
        raise VisitError("not_found")
    previous = company.advisor_line_user_id
    company.advisor_line_user_id = advisor or None
    company.updated_at = utc_now()
    session.add(company)
    audit(session, actor=actor, action="company_assigned", target=f"company:{company_id}",
          advisor=advisor, previous=previous)
    return company


# --- the record ----------------------------------------------------------------------------

def combine(day: date, at: time | None) -> datetime:
    """A Taipei date (and time, if known) as an aware datetime. No time known: 00:00 Taipei."""
    return datetime.combine(day, at or time(0, 0), tzinfo=TAIPEI)


def record_visit(session: Session, *, advisor: str, company_id: int, visited_at: datetime, mode: str,
                 duration_minutes: int | None, topics: str | None, notes: str | None = None) -> Visit:
    from bot.services import audit

    if mode not in MODES:
        raise ValueError(f"unknown mode {mode}")
    visit = booked_visit_on(session, company_id=company_id, advisor=advisor, day=to_taipei(visited_at).date())
    if visit is None:
        visit = Visit(company_id=company_id, scheduled_at=None, created_by=advisor)
    else:
        visit.created_at = utc_now()  # the 24-hour edit window starts with the log
    # A booked visit (visits.booking) that took place becomes the record: one row per visit.
    visit.advisor_line_user_id = advisor
    visit.visited_at = visited_at
    visit.mode = mode
    visit.duration_minutes = duration_minutes
    visit.topics = topics or None
    visit.notes = notes or None
    visit.status = "done"
    visit.updated_at = utc_now()
    session.add(visit)
    session.flush()
    audit(session, actor=advisor, action="visit_logged", target=f"visit:{visit.id}", company_id=company_id,
          mode=mode, from_booking=visit.scheduled_at is not None)
    return visit


def booked_visit_on(session: Session, *, company_id: int, advisor: str, day: date) -> Visit | None:
    """A booked or confirmed visit to this company on that Taipei day (the advisor's, or nobody's)."""
    start = datetime.combine(day, time(0, 0), tzinfo=TAIPEI)
    return session.exec(select(Visit).where(
        Visit.company_id == company_id, Visit.status.in_(("booked", "confirmed")), Visit.deleted_at.is_(None),
        Visit.scheduled_at >= start, Visit.scheduled_at < start + timedelta(days=1),
        sa.or_(Visit.advisor_line_user_id == advisor, Visit.advisor_line_user_id.is_(None)))
        .order_by(Visit.scheduled_at)).first()


def editable_visit(session: Session, *, visit_id: int, advisor: str, now: datetime | None = None) -> Visit:
    """The advisor's own visit, still inside the 24-hour edit window; else VisitError."""
    visit = session.get(Visit, visit_id)
    if visit is None or visit.deleted_at is not None:
        raise VisitError("not_found")
    if visit.advisor_line_user_id != advisor:
        raise VisitError("not_yours")
    if (now or utc_now()) - visit.created_at > EDIT_WINDOW:
        raise VisitError("too_late")
    return visit


def update_visit(session: Session, *, visit_id: int, advisor: str, changes: dict,
                 now: datetime | None = None) -> Visit:
    from bot.services import audit

    visit = editable_visit(session, visit_id=visit_id, advisor=advisor, now=now)
    allowed = {"company_id", "visited_at", "mode", "duration_minutes", "topics", "notes"}
    for key, value in changes.items():
        if key in allowed:
            setattr(visit, key, value)
    visit.updated_at = utc_now()
    session.add(visit)
    audit(session, actor=advisor, action="visit_updated", target=f"visit:{visit.id}",
          fields=sorted(k for k in changes if k in allowed))
    return visit


def delete_visit(session: Session, *, visit_id: int, advisor: str, now: datetime | None = None) -> Visit:
    from bot.services import audit

    visit = editable_visit(session, visit_id=visit_id, advisor=advisor, now=now)
    visit.deleted_at = now or utc_now()
    visit.updated_at = utc_now()
    session.add(visit)
    audit(session, actor=advisor, action="visit_deleted", target=f"visit:{visit.id}")
    return visit


def last_visit(session: Session, *, advisor: str) -> Visit | None:
    return session.exec(select(Visit).where(Visit.advisor_line_user_id == advisor, Visit.status == "done",
                                            Visit.deleted_at.is_(None))
                        .order_by(Visit.created_at.desc(), Visit.id.desc())).first()


def attach_photo(session: Session, *, visit_id: int, message_id: str, content: bytes) -> VisitPhoto | None:
    """Store one photo (once per LINE message id) and reference it from the visit."""
    visit = session.get(Visit, visit_id)
    if visit is None:
        return None
    existing = session.exec(select(VisitPhoto).where(VisitPhoto.message_id == message_id)).first()
    if existing is not None:
        return existing
    photo = VisitPhoto(visit_id=visit_id, message_id=message_id, mime=sniff_mime(content), size=len(content),
                       data=content)
    session.add(photo)
    session.flush()
    visit.photos = [*(visit.photos or []), f"photo:{photo.id}"]
    visit.updated_at = utc_now()
    session.add(visit)
    return photo


# --- progress and export -------------------------------------------------------------------

def progress_by_company(session: Session, *, companies: list[Company], rules: VisitRules) -> dict[int, VisitProgress]:
    return visit_progress(session, company_ids=[c.id for c in companies], min_total=rules.min_total,
                          min_onsite=rules.min_onsite)


# The programme office needs the advisor's name, not a LINE user id (export only what the table needs).
CSV_COLUMNS = ("visit_id", "company_tax_id", "company_name", "county", "advisor", "visit_date_roc",
               "visit_date", "visit_time", "mode", "mode_label", "duration_minutes", "topics", "notes",
               "photo_count", "logged_at")


def export_rows(session: Session, *, program_id: str | None = None) -> list[dict]:
    """One row per done, non-deleted visit: what a 企業個案輔導紀錄 needs."""
    statement = (select(Visit, Company).join(Company, Company.id == Visit.company_id)
                 .where(Visit.status == "done", Visit.deleted_at.is_(None))
                 .order_by(Company.id, Visit.visited_at, Visit.id))
    if program_id:
        statement = statement.where(Company.program_id == program_id)
    from staff.models import TeamMember

    names = dict(session.exec(select(TeamMember.line_user_id, TeamMember.display_name)).all())
    rows = []
    for visit, company in session.exec(statement).all():
        local = to_taipei(visit.visited_at) if visit.visited_at else None
        rows.append({
            "visit_id": visit.id, "company_tax_id": company.tax_id or "", "company_name": company.name or "",
            "county": company.county or "", "advisor": names.get(visit.advisor_line_user_id or "", t("visits.advisor_unnamed")),
            "visit_date_roc": format_roc_date(local.date()) if local else "",
            "visit_date": local.date().isoformat() if local else "",
            "visit_time": local.strftime("%H:%M") if local and (local.hour or local.minute) else "",
            "mode": visit.mode, "mode_label": mode_label(visit.mode),
            "duration_minutes": visit.duration_minutes or "", "topics": visit.topics or "",
            "notes": visit.notes or "", "photo_count": len(visit.photos or []),
            "logged_at": to_taipei(visit.created_at).strftime("%Y-%m-%d %H:%M"),
        })
    return rows


def visits_csv(session: Session, *, bom: bool = True, program_id: str | None = None) -> str:
    """CSV text for Excel (bot.spreadsheet: BOM, formula-safe cells)."""
    rows = export_rows(session, program_id=program_id)
    return spreadsheet_csv(CSV_COLUMNS, ([row.get(name) for name in CSV_COLUMNS] for row in rows), bom=bom)


def visits_per_advisor(session: Session) -> list[tuple[str, int, int]]:
    """(advisor, done visits, on-site visits) for the dashboard."""
    onsite = sa.func.sum(sa.case((Visit.mode == "onsite", 1), else_=0))
    rows = session.exec(select(Visit.advisor_line_user_id, sa.func.count(Visit.id), onsite)
                        .where(Visit.status == "done", Visit.deleted_at.is_(None))
                        .group_by(Visit.advisor_line_user_id)).all()
    return [(advisor or "", int(total), int(on or 0)) for advisor, total, on in rows]
