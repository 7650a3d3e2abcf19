"""「我的資料」: what the bot holds about a person, the export link, correction, stop/resume
processing (seed 002 捌 六; 個資法 第3條). Keyword-only functions over a session."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session

from bot.db import utc_now
from bot.signing import link_serializer
from bot.models import User
from bot.services import audit, find_user
from bot.spreadsheet import spreadsheet_csv
from privacy import datamap

EXPORT_PURPOSE = "privacy-export"
DEFAULT_EXPORT_SECONDS = 30 * 60  # a personal data file: short-lived link


def current_consent_version() -> str:
    from dialogs.core_flows import CONSENT_VERSION

    return CONSENT_VERSION


def get_user(session: Session, *, line_user_id: str) -> User | None:
    return find_user(session, line_user_id)


# --- the data map for one person ------------------------------------------------------------------

def person_data(session: Session, *, line_user_id: str) -> dict[str, list[dict]]:
    """Every row held about this person (and their companies), by table. Binary content is given
    as size + SHA-256; secrets' hashes are left out."""
    return datamap.person_rows(session, line_user_id=line_user_id)


@dataclass(frozen=True)
class Summary:
    user: dict | None
    counts: dict[str, int]  # rows per table
    companies: list[dict]
    letters: list[dict]
    visits: list[dict]
    reminders_pending: int
    questions: int
    conversation_flow: str | None
    consent_current: bool

    @property
    def empty(self) -> bool:
        return self.user is None and not self.counts


def summary(session: Session, *, line_user_id: str) -> Summary:
    data = person_data(session, line_user_id=line_user_id)
    users = data.get("users") or []
    user_row = users[0] if users else None
    conversation = (data.get("conversations") or [{}])[0]
    return Summary(
        user=user_row,
        counts={table: len(rows) for table, rows in data.items()},
        companies=data.get("companies", []),
        letters=data.get("letters", []),
        visits=[v for v in data.get("visits", []) if not v.get("deleted_at")],
        reminders_pending=sum(1 for r in data.get("reminders", []) if r.get("status") == "pending"),
        questions=len(data.get("unanswered_questions", [])),
        conversation_flow=conversation.get("flow"),
        consent_current=bool(user_row and user_row.get("consent_version") == current_consent_version()),
    )


# --- export files ---------------------------------------------------------------------------------

def export_json(session: Session, *, line_user_id: str) -> str:
    data = person_data(session, line_user_id=line_user_id)
    document = {"generated_at": utc_now().isoformat(), "statement": current_consent_version(),
                "tables": data}
    return json.dumps(document, ensure_ascii=False, indent=2, default=str)


def export_csv(session: Session, *, line_user_id: str, programs: dict | None = None) -> str:
    """The readable document as a spreadsheet: 類別, 項目, 欄位, 內容 (zh-TW, for Excel)."""
    from privacy import document

    header, rows = document.csv_rows(document.sections(session, line_user_id=line_user_id, programs=programs))
    return spreadsheet_csv(header, rows)


# --- the export link ------------------------------------------------------------------------------

def _serializer(config: dict) -> URLSafeTimedSerializer:
    return link_serializer(config, "privacy-export", EXPORT_PURPOSE)


def export_seconds(config: dict) -> int:
    value = config.get("PRIVACY_EXPORT_SECONDS")
    return DEFAULT_EXPORT_SECONDS if value is None else int(value)


def export_token(config: dict, *, user: User) -> str:
    """Unguessable (random nonce, HMAC-signed) and expiring. Carries the internal row id, never
    the LINE id, and the consent time so a deleted (anonymised) account's links stop working."""
    return _serializer(config).dumps({"i": user.id, "n": secrets.token_urlsafe(12),
                                      "c": user.consented_at.isoformat() if user.consented_at else None})


class ExportLinkExpired(Exception):
    pass


def read_export_token(session: Session, config: dict, token: str) -> User | None:
    """The user a link belongs to; None when forged or the account is gone; raises when expired."""
    try:
        payload = _serializer(config).loads(token, max_age=export_seconds(config))
    except SignatureExpired as expired:
        raise ExportLinkExpired() from expired
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    user = session.get(User, payload.get("i"))
    if user is None or user.line_user_id.startswith("anon-"):
        return None
    if (user.consented_at.isoformat() if user.consented_at else None) != payload.get("c"):
        return None
    return user


def export_urls(config: dict, *, user: User) -> dict[str, str]:
    """One token, three forms: the readable page, the CSV (zh-TW headers) and the full JSON."""
    token = export_token(config, user=user)
    base = config["PUBLIC_BASE_URL"].rstrip("/")
    return {"page": f"{base}/privacy/export/{token}.html", "csv": f"{base}/privacy/export/{token}.csv",
            "json": f"{base}/privacy/export/{token}.json"}


# --- stop / resume processing ---------------------------------------------------------------------

def set_processing_stopped(session: Session, *, line_user_id: str, stopped: bool) -> bool:
    """停止處理 / 恢復處理. Returns False when it already was so. The outbox skips pushes and
    multicasts to stopped users; reminders and broadcasts go through the outbox."""
    user = get_user(session, line_user_id=line_user_id)
    if user is None or user.processing_stopped == stopped:
        return False
    user.processing_stopped = stopped
    session.add(user)
    audit(session, actor=line_user_id, action="privacy_processing_stopped" if stopped else "privacy_processing_resumed")
    return True


# --- correction -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    key: str  # "user.display_name", "company:3.name", "answer:3.employees", "letter.mobile"
    label: str
    current: Any
    kind: str = "text"  # text | integer | boolean | choice | county | letter
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    max: int = 200


COMPANY_FIELDS = (("name", "company_name", "text", 200), ("county", "county", "county", 20),
                  ("township", "township", "text", 20), ("industry", "industry", "text", 60),
                  ("main_product", "main_product", "text", 200), ("employees", "employees", "integer", 100000))
LETTER_FIELDS = ("contact_name", "mobile", "phone", "email", "address", "representative")


def correctable_fields(session: Session, *, line_user_id: str, programs: dict | None, label) -> list[Field]:
    """What the owner can correct: their LINE name, their companies' details and eligibility
    answers, and (via a corrected letter) the contact details on a signed letter."""
    from companies.service import companies_of_user

    fields: list[Field] = []
    user = get_user(session, line_user_id=line_user_id)
    if user is not None and user.display_name:
        fields.append(Field("user.display_name", label("display_name"), user.display_name, max=60))
    companies = companies_of_user(session, line_user_id=line_user_id)
    several = len(companies) > 1
    for company in companies:
        prefix = f"{company.name or company.tax_id or company.id}：" if several else ""
        program = (programs or {}).get(company.program_id)
        for column, text_key, kind, limit in COMPANY_FIELDS:
            value = getattr(company, column)
            if column == "employees" and program is not None:
                # as the intake asks it: above the programme's plausible headcount a slip (「999」)
                limit = int((program.fields.get("employees") or {}).get("max_plausible", limit))
            if value is not None:
                fields.append(Field(f"company:{company.id}.{column}", prefix + label(text_key), value, kind, max=limit))
        for name, value in (company.answers or {}).items():
            spec = program.fields.get(name) if program else None
            if spec is None or spec.get("type") not in ("choice", "integer", "boolean") or name in ("employees",):
                continue
            choices = tuple((str(k), str(v)) for k, v in (spec.get("choices") or {}).items())
            fields.append(Field(f"answer:{company.id}.{name}", prefix + str(spec.get("label", name)), value,
                                spec["type"], choices, max=int(spec.get("max", 100000))))
    from privacy.datamap import table_by_name

    if table_by_name(session, "letters") is not None:
        from letters import service as letters_service

        for letter in letters_service.letters_of_user(session, line_user_id=line_user_id):
            version = letters_service.current_version(session, letter=letter)
            if version is None:
                continue
            content = letters_service.version_content(version).get("fields") or {}
            for name in LETTER_FIELDS:
                if content.get(name):
                    fields.append(Field(f"letter.{name}", label(name), content[name], "letter"))
            break
    return fields


def apply_correction(session: Session, *, line_user_id: str, key: str, value: Any, programs: dict | None) -> bool:
    """Write one corrected value; audited with the field name only (never the values)."""
    from companies.models import Company
    from companies.service import companies_of_user

    target, _, column = key.partition(".")
    if target == "user":
        user = get_user(session, line_user_id=line_user_id)
        if user is None or column != "display_name":
            return False
        user.display_name = value
        session.add(user)
    elif target.startswith(("company:", "answer:")):
        company_id = int(target.split(":", 1)[1])
        if company_id not in {c.id for c in companies_of_user(session, line_user_id=line_user_id)}:
            return False
        company = session.get(Company, company_id)
        if target.startswith("company:"):
            if column not in {c for c, *_ in COMPANY_FIELDS}:
                return False
            setattr(company, column, value)
            if column == "employees" and company.answers and "employees" in company.answers:
                company.answers = {**company.answers, "employees": value}
                _re_evaluate(company, programs)
        else:
            company.answers = {**(company.answers or {}), column: value}
            _re_evaluate(company, programs)
        company.updated_at = utc_now()
        session.add(company)
    else:
        return False
    audit(session, actor=line_user_id, action="privacy_corrected", target=key.split(".")[0].split(":")[0],
          field=column)
    return True


def _re_evaluate(company, programs: dict | None) -> None:
    """A corrected answer can change the verdict (002 叁 輔導對象): evaluate again."""
    program = (programs or {}).get(company.program_id)
    if program is None or company.verdict is None:
        return
    try:
        from eligibility import evaluate

        verdict = evaluate(program=program, answers=company.answers or {})
    except Exception:  # incomplete old answers: leave the verdict for staff to review
        return
    company.verdict = verdict.verdict
    company.verdict_reasons = [r.to_dict() for r in verdict.reasons]
    company.verdict_at = utc_now()
