"""Unanswered questions: logged when the FAQ cannot answer, staff are told, staff answer,
the asker gets the answer by push, and the answer can flow back into the knowledge base.

Service functions take a ``session`` (keyword-only) and run inside the caller's transaction;
pushes go through the outbox (delivered after commit, once per idempotency key).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.db import utc_now
from bot.messages import Text, to_line_messages
from bot.models import OutboundMessage
from bot.outbox import enqueue_multicast, enqueue_push
from bot.services import audit, user_ids_with_role
from bot.texts import t
from bot.timeutil import to_taipei

from . import editing
from .models import STATUS_ANSWERED, STATUS_OPEN, UnansweredQuestion

QUESTION_PREVIEW_CHARS = 120  # staff notification: enough to judge, short on a phone
# One staff alert per asker per window (each alert is a multicast: one message of the LINE quota
# per staff member); questions asked meanwhile are listed in the next alert.
ALERT_WINDOW = timedelta(minutes=5)
ALERT_MAX_LISTED = 10         # a digest lists the latest ten; the rest are on /staff/unanswered


class UnansweredError(Exception):
    """A staff answer could not be applied (unknown id, empty answer, KB edit refused). The message
    is for logs and the CLI; ``code`` names the reason for the chat's zh-TW text
    (faq.staff_error_<code>)."""

    def __init__(self, message: str, *, code: str = "refused"):
        super().__init__(message)
        self.code = code


@dataclass
class AnswerOutcome:
    row: UnansweredQuestion
    pushed: bool
    added_to: str | None = None  # entry id (phrasing) or new entry id


def candidates_of(result) -> list[dict[str, str]]:
    """The engine's best guesses for an AskResult (suggestions first, then its ranking), at most 3:
    they help staff answer quickly."""
    candidates: list[dict[str, str]] = []
    seen = set()
    for item in list(result.suggestions) + [{"entry_id": i, "question": ""} for i, _ in result.debug.get("top", [])]:
        if item["entry_id"] in seen:
            continue
        seen.add(item["entry_id"])
        candidates.append({"entry_id": item["entry_id"], "question": item.get("question", "")})
        if len(candidates) == 3:
            break
    return candidates


def log_question(session: Session, *, line_user_id: str | None, question: str, candidates: list | None = None,
                 score: float = 0.0, program_hint: str | None = None, reason: str = "fallback") -> UnansweredQuestion:
    """Record a question the FAQ could not answer and tell every staff member (once per question).

    The same person asking the same open question again does not create a second row."""
    question = " ".join((question or "").split())[:1000]
    existing = session.exec(select(UnansweredQuestion).where(
        UnansweredQuestion.line_user_id == line_user_id, UnansweredQuestion.question == question,
        UnansweredQuestion.status == STATUS_OPEN)).first()
    if existing is not None:
        return existing
    row = UnansweredQuestion(line_user_id=line_user_id, question=question, candidates=list(candidates or []),
                             score=float(score or 0.0), program_hint=program_hint, reason=reason)
    session.add(row)
    session.flush()
    audit(session, actor=line_user_id, action="faq_unanswered", target=str(row.id), reason=reason)
    notify_staff(session, row=row)
    return row


def notify_staff(session: Session, *, row: UnansweredQuestion, now: datetime | None = None) -> int:
    """Tell staff about ``row``, at most one alert per asker per ALERT_WINDOW: a multicast costs
    one message of the LINE quota per staff member, and one person typing twenty questions
    must not cost twenty alerts. The first question goes out at once; later ones within the
    window wait in one alert, sent when the window ends, that lists them all. Returns how many
    staff members the alert goes to."""
    staff = [uid for uid in user_ids_with_role(session, "staff") if uid != row.line_user_id]
    if not staff:
        return 0
    now = (now or utc_now()).replace(microsecond=0)
    who = askers(session, user_ids=[row.line_user_id]).get(row.line_user_id or "") or t("faq.asker_unknown")
    last = None
    if row.line_user_id is not None:
        last = session.exec(select(sa.func.max(UnansweredQuestion.alert_at)).where(
            UnansweredQuestion.line_user_id == row.line_user_id, UnansweredQuestion.id != row.id)).one()
    if last is None or now >= last + ALERT_WINDOW:
        due = now
    elif last > now:
        due = last  # an alert is already waiting for the window's end: join it
    else:
        due = last + ALERT_WINDOW
    while True:
        row.alert_at = due
        session.add(row)
        session.flush()
        batch = list(session.exec(select(UnansweredQuestion).where(
            UnansweredQuestion.line_user_id == row.line_user_id, UnansweredQuestion.alert_at == due)
            .order_by(UnansweredQuestion.id)).all()) if row.line_user_id else [row]
        replies = [Text(_alert_text(batch, who))]
        key = f"faq-alert:{row.line_user_id or 'api'}:{due.isoformat()}"
        if len(batch) == 1:
            enqueue_multicast(session, to=staff, replies=replies, idempotency_key=key,
                              origin=f"faq-unanswered:{row.id}", not_before=due)
            return len(staff)
        # Rewrite the waiting alert, unless the sender took it meanwhile: then the next window.
        updated = session.execute(sa.update(OutboundMessage).where(
            OutboundMessage.idempotency_key.like(f"{key}@%"), OutboundMessage.status == "pending")
            .values(messages=to_line_messages(replies))).rowcount
        if updated:
            return len(staff)
        due = due + ALERT_WINDOW


def _alert_text(rows: list[UnansweredQuestion], who: str) -> str:
    def preview(question: str) -> str:
        return question if len(question) <= QUESTION_PREVIEW_CHARS else question[:QUESTION_PREVIEW_CHARS] + "…"

    if len(rows) == 1:
        return t("faq.staff_new_question", id=rows[0].id, question=preview(rows[0].question), who=who)
    shown = rows[-ALERT_MAX_LISTED:]
    items = "\n".join(t("faq.staff_reply_item", id=r.id, question=preview(r.question)) for r in shown)
    return t("faq.staff_new_questions", count=len(rows), items=items, id=shown[-1].id, who=who)


def askers(session: Session, *, user_ids) -> dict[str, str]:
    """Who asked, as staff know them (issue 19: not a programme code): the company's name, else
    the person's LINE display name (stored only with consent), else nothing."""
    from bot.models import User
    from companies.models import Company, CompanyMember

    ids = sorted({uid for uid in user_ids if uid})
    if not ids:
        return {}
    names: dict[str, str] = {}
    for uid, name in session.exec(select(User.line_user_id, User.display_name)
                                  .where(User.line_user_id.in_(ids))).all():
        if name:
            names[uid] = name
    rows = session.exec(select(CompanyMember.line_user_id, Company.name)
                        .join(Company, Company.id == CompanyMember.company_id)
                        .where(CompanyMember.line_user_id.in_(ids))
                        .order_by(Company.updated_at, Company.id)).all()
    for uid, name in rows:  # the latest company wins
        if name:
            names[uid] = name
    return names


def list_questions(session: Session, *, status: str | None = STATUS_OPEN, limit: int = 200) -> list[UnansweredQuestion]:
    statement = select(UnansweredQuestion).order_by(UnansweredQuestion.id)
    if status:
        statement = statement.where(UnansweredQuestion.status == status)
    return list(session.exec(statement.limit(limit)).all())


def as_dict(row: UnansweredQuestion) -> dict[str, Any]:
    return {"id": row.id, "line_user_id": row.line_user_id, "question": row.question,
            "asked_at": row.asked_at.isoformat() if row.asked_at else None,
            "candidates": list(row.candidates or []), "score": round(row.score or 0.0, 4),
            "program_hint": row.program_hint, "reason": row.reason, "status": row.status,
            "answer": row.answer, "answered_by": row.answered_by,
            "answered_at": row.answered_at.isoformat() if row.answered_at else None,
            "added_to_entry": row.added_to_entry}


def answer_question(session: Session, *, question_id: int, answer: str, answered_by: str,
                    kb=None, add_to_entry: str | None = None, add_as_entry: bool = False,
                    program: str | None = None) -> AnswerOutcome:
    """Staff answer: store it, push it to the asker, and optionally teach the KB.

    ``add_to_entry``: the asked question becomes a new phrasing of that existing entry (its
    answer already covers it). ``add_as_entry``: the staff answer becomes a new entry under
    entries/staff-answers/. Both reload the KB strictly; a refused edit leaves files untouched
    and raises UnansweredError (nothing is stored or sent then: the caller's transaction aborts)."""
    answer = (answer or "").strip()
    if not answer:
        raise UnansweredError("empty answer", code="empty")
    row = session.get(UnansweredQuestion, question_id)
    if row is None:
        raise UnansweredError(f"no unanswered question #{question_id}", code="not_found")
    added_to = None
    if add_to_entry:
        if kb is None or kb.entry(add_to_entry) is None:
            raise UnansweredError(f"unknown entry {add_to_entry}", code="unknown_entry")
        try:
            editing.add_phrasing(entries_dir=kb.entries_dir, entry_id=add_to_entry, phrasing=row.question,
                                 reload=lambda: kb.reload(strict=True))
        except editing.EditError as exc:
            raise UnansweredError(str(exc), code="edit_refused") from exc
        added_to = add_to_entry
    elif add_as_entry:
        if kb is None:
            raise UnansweredError("no knowledge base", code="no_kb")
        entry_id = f"staff-answer-{row.id}"
        try:
            editing.add_staff_entry(entries_dir=kb.entries_dir, entry_id=entry_id,
                                    program=program or row.program_hint or "general", question=row.question,
                                    answer=answer, answered_by=_safe_name(answered_by),
                                    reload=lambda: kb.reload(strict=True), today=to_taipei(utc_now()).date())
        except editing.EditError as exc:
            raise UnansweredError(str(exc), code="edit_refused") from exc
        added_to = entry_id
    first_answer = row.status != STATUS_ANSWERED
    row.answer = answer
    row.answered_by = answered_by
    row.answered_at = utc_now()
    row.status = STATUS_ANSWERED
    if added_to:
        row.added_to_entry = added_to
    session.add(row)
    pushed = False
    if row.line_user_id:
        # One push per answer version: a corrected answer is sent again, a repeated call is not.
        version = _answer_version(answer)
        rows = enqueue_push(session, to=row.line_user_id,
                            replies=[Text(t("faq.answer_push", question=row.question, answer=answer))],
                            idempotency_key=f"faq-answer:{row.id}:{version}", origin=f"faq-answer:{row.id}")
        pushed = bool(rows)
    audit(session, actor=answered_by, action="faq_answered", target=str(row.id), pushed=pushed,
          added_to_entry=added_to, first=first_answer)
    return AnswerOutcome(row=row, pushed=pushed, added_to=added_to)


def _answer_version(answer: str) -> str:
    import hashlib

    return hashlib.sha256(answer.encode("utf-8")).hexdigest()[:12]


def _safe_name(who: str) -> str:
    return re.sub(r"[^\w\-]", "", who or "")[:40]


def parse_reply_argument(argument: str) -> tuple[int, str] | None:
    """「/回覆 12 內容」 -> (12, "內容"); also accepts 「#12」 and full-width digits."""
    import unicodedata

    text = (argument or "").strip()
    m = re.match(r"^[#＃]?([0-9０-９]+)\s*[:：,，]?\s*(.*)$", text, re.S)
    if not m:
        return None
    return int(unicodedata.normalize("NFKC", m.group(1))), m.group(2).strip()
