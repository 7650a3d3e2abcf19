"""Staff announcements: audiences, composing, queueing through the outbox, delivery reports.

Guarantees come from the outbox (bot.outbox): the broadcast and all its multicast rows (≤ 500
recipients each, LINE's multicast limit) are written in ONE transaction, each row with the
idempotency key ``broadcast:<id>@<chunk>`` and its own X-Line-Retry-Key. A crash before the commit
leaves nothing; after it, the pump resumes the remaining rows, and a row whose outcome was lost is
retried with the same retry key (LINE answers 409: nobody is messaged twice). Unfollowed or
stopped users are filtered again at send time by the outbox.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time
from typing import Sequence
from urllib.parse import urlparse

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.db import utc_now
from bot.messages import Image, Reply, Text, to_line_messages
from bot.models import OutboundMessage, RoleGrant, User
from bot.outbox import enqueue_multicast
from bot.services import audit
from bot.texts import t
from bot.timeutil import format_roc_datetime
from broadcasts.models import Broadcast, SavedList
from companies.models import Company, CompanyMember
from scheduler.delivery import TokenBucket
from scheduler.settings import QuietHours, default_schedule

AUDIENCE_KINDS = ("all", "verdict", "letter", "county", "industry", "advisors", "list")
NEEDS_VALUE = ("verdict", "letter", "county", "industry", "list")
VERDICTS = ("eligible", "needs_review", "ineligible")
LETTER_STATUSES = ("signed", "none", "withdrawn")
MULTICAST_RATE = 200  # LINE: multicast is limited to 200 requests per second
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")  # LINE image messages: JPEG or PNG over HTTPS


class BroadcastError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# --- audiences -----------------------------------------------------------------------------

def audience_label(kind: str, value: str | None, *, lists: dict[str, str] | None = None) -> str:
    if kind == "verdict":
        return t("broadcasts.aud_verdict_of", value=t(f"broadcasts.verdict_{value}"))
    if kind == "letter":
        return t("broadcasts.aud_letter_of", value=t(f"broadcasts.letter_{value}"))
    if kind in ("county", "industry"):
        return t(f"broadcasts.aud_{kind}_of", value=value)
    if kind == "list":
        return t("broadcasts.aud_list_of", value=(lists or {}).get(str(value), value))
    return t(f"broadcasts.aud_{kind}")


def audience_options(session: Session) -> dict[str, list[list[str]]]:
    """For each kind that needs a value: [value, label] pairs (JSON-able for a conversation)."""
    counties = session.exec(select(Company.county).where(Company.county.is_not(None)).distinct()
                            .order_by(Company.county)).all()
    industries = session.exec(select(Company.industry).where(Company.industry.is_not(None)).distinct()
                              .order_by(Company.industry)).all()
    lists = session.exec(select(SavedList.id, SavedList.name).order_by(SavedList.name)).all()
    return {
        "verdict": [[v, t(f"broadcasts.verdict_{v}")] for v in VERDICTS],
        "letter": [[v, t(f"broadcasts.letter_{v}")] for v in LETTER_STATUSES],
        "county": [[c, c] for c in counties if c],
        "industry": [[i, i] for i in industries if i],
        "list": [[str(i), n] for i, n in lists],
    }


def _reachable(statement):
    """Only people who follow the account and have not asked us to stop (個資法 第3條)."""
    return statement.where(User.is_following.is_(True), User.processing_stopped.is_(False))


def resolve_audience(session: Session, *, kind: str, value: str | None) -> list[str]:
    """The LINE user ids an audience means right now, de-duplicated, in a stable order."""
    if kind not in AUDIENCE_KINDS:
        raise BroadcastError("bad_audience")
    if kind in NEEDS_VALUE and not value:
        raise BroadcastError("bad_audience")
    if kind == "all":
        statement = select(User.line_user_id)
    elif kind == "advisors":
        statement = (select(User.line_user_id).join(RoleGrant, RoleGrant.line_user_id == User.line_user_id)
                     .where(RoleGrant.role == "advisor"))
    elif kind == "list":
        saved = session.get(SavedList, int(value)) if str(value).isdigit() else None
        if saved is None:
            raise BroadcastError("bad_audience")
        members = [str(m) for m in saved.members or []]
        found = set()
        for start in range(0, len(members), 900):  # stay under SQLite's bound-parameter limit
            found.update(session.exec(_reachable(select(User.line_user_id)
                                                 .where(User.line_user_id.in_(members[start:start + 900])))).all())
        return [m for m in dict.fromkeys(members) if m in found]
    else:
        column = {"verdict": Company.verdict, "letter": Company.letter_status, "county": Company.county,
                  "industry": Company.industry}[kind]
        statement = (select(User.line_user_id)
                     .join(CompanyMember, CompanyMember.line_user_id == User.line_user_id)
                     .join(Company, Company.id == CompanyMember.company_id)
                     .where(column == value, Company.status == "active"))
        if kind == "verdict":
            statement = statement.where(CompanyMember.role == "owner")  # issue 7: owners by verdict
    # Core execution: 100,000 plain strings do not need the ORM's row machinery.
    rows = session.connection().execute(_reachable(statement).order_by(User.id)).scalars().all()
    return list(dict.fromkeys(rows))


def count_audience(session: Session, *, kind: str, value: str | None) -> int:
    return len(resolve_audience(session, kind=kind, value=value))


# --- composing -----------------------------------------------------------------------------

def validate(*, text: str, image_url: str | None, link_url: str | None) -> list[str]:
    """zh-TW problems with a draft (empty list: fine)."""
    problems = []
    if not (text or "").strip():
        problems.append(t("broadcasts.err_text_empty"))
    elif len(text) > 5000:
        problems.append(t("broadcasts.err_text_long"))
    if image_url:
        parsed = urlparse(image_url)
        if parsed.scheme != "https" or not parsed.path.lower().endswith(IMAGE_EXTENSIONS) or len(image_url) > 2000:
            problems.append(t("broadcasts.err_image_url"))
    if link_url:
        parsed = urlparse(link_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or len(link_url) > 1000:
            problems.append(t("broadcasts.err_link_url"))
    return problems


def compose(*, text: str, image_url: str | None = None, link_url: str | None = None) -> list[Reply]:
    """The messages every recipient gets — also what the preview shows, so they cannot differ."""
    body = text.strip()
    if link_url:
        body += "\n\n" + t("broadcasts.link_line", url=link_url)
    replies: list[Reply] = [Text(body)]
    if image_url:
        replies.append(Image(url=image_url))
    return replies


def preview_messages(*, text: str, image_url: str | None = None, link_url: str | None = None) -> list[dict]:
    return to_line_messages(compose(text=text, image_url=image_url, link_url=link_url))


# --- timing --------------------------------------------------------------------------------

def quiet_hours(config) -> QuietHours:
    """The programme's quiet hours (programs.yaml ``quiet_hours``): the same ones reminders keep."""
    return default_schedule(config).quiet


def outside_quiet_hours(moment: datetime, quiet: QuietHours | tuple[int, int]) -> datetime:
    """Scheduled sends never land in quiet hours (Taipei): moved to their end. ``quiet`` may be
    given as (start hour, end hour)."""
    if not isinstance(quiet, QuietHours):
        quiet = QuietHours(time(quiet[0]), time(quiet[1]))
    return quiet.next_allowed(moment)


# --- creating, cancelling ------------------------------------------------------------------

def create_broadcast(session: Session, *, actor: str, source: str, text: str, image_url: str | None,
                     link_url: str | None, audience_kind: str, audience_value: str | None,
                     scheduled_for: datetime | None = None, quiet_hours: QuietHours | tuple[int, int] = QuietHours(),
                     now: datetime | None = None, replies: Sequence[Reply] | None = None) -> Broadcast:
    """Resolve the audience and queue every chunk, all in the caller's transaction.

    ``replies``: messages another domain built (an activity's invitation card with its buttons),
    sent instead of composing ``text``, which then only names the broadcast in reports."""
    now = now or utc_now()
    problems = validate(text=text, image_url=image_url, link_url=link_url)
    if problems:
        raise BroadcastError("invalid")
    recipients = resolve_audience(session, kind=audience_kind, value=audience_value)
    if not recipients:
        raise BroadcastError("empty_audience")
    if scheduled_for is not None and scheduled_for <= now:
        scheduled_for = None
    send_at = outside_quiet_hours(scheduled_for, quiet_hours) if scheduled_for else now
    lists = {str(i): n for i, n in session.exec(select(SavedList.id, SavedList.name)).all()} if audience_kind == "list" else None
    broadcast = Broadcast(created_by=actor, source=source, text=text.strip(), image_url=image_url or None,
                          link_url=link_url or None, audience_kind=audience_kind, audience_value=audience_value,
                          audience_label=audience_label(audience_kind, audience_value, lists=lists)[:200],
                          recipients_count=len(recipients), status="scheduled" if scheduled_for else "queued",
                          requested_for=scheduled_for, send_at=send_at, created_at=now)
    session.add(broadcast)
    session.flush()
    messages = list(replies) if replies else compose(text=text, image_url=image_url, link_url=link_url)
    rows = enqueue_multicast(session, to=recipients, replies=messages,
                             idempotency_key=f"broadcast:{broadcast.id}", origin=f"broadcast:{broadcast.id}",
                             not_before=send_at)
    broadcast.chunks = len(rows)
    session.add(broadcast)
    # Who, what (no message text: the broadcast row holds it), to whom, when.
    audit(session, actor=actor, action="broadcast_created", target=f"broadcast:{broadcast.id}", source=source,
          audience=audience_kind, audience_value=audience_value, recipients=len(recipients), chunks=len(rows),
          send_at=send_at.isoformat(), scheduled=bool(scheduled_for))
    return broadcast


def cancel_broadcast(session: Session, *, broadcast_id: int, actor: str) -> int:
    """Cancel what has not been sent yet; returns the number of chunks cancelled."""
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastError("not_found")
    result = session.execute(sa.update(OutboundMessage)
                             .where(OutboundMessage.origin == f"broadcast:{broadcast_id}",
                                    OutboundMessage.status == "pending")
                             .values(status="cancelled", last_error="cancelled by staff"))
    if result.rowcount:
        broadcast.status = "cancelled"
        broadcast.cancelled_at = utc_now()
        session.add(broadcast)
    audit(session, actor=actor, action="broadcast_cancelled", target=f"broadcast:{broadcast_id}",
          chunks=result.rowcount)
    return result.rowcount


# --- reports -------------------------------------------------------------------------------

@dataclass
class Report:
    broadcast_id: int
    recipients: int
    sent: int
    failed: int
    pending: int
    cancelled: int
    skipped: int  # unfollowed / stopped before their chunk went out
    chunks: int
    send_at: datetime
    first_sent_at: datetime | None
    last_sent_at: datetime | None
    state: str  # scheduled | sending | done | failed | cancelled

    def as_dict(self) -> dict:
        data = dict(self.__dict__)
        for key in ("send_at", "first_sent_at", "last_sent_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def delivery_report(session: Session, *, broadcast_id: int, now: datetime | None = None) -> Report:
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastError("not_found")
    rows = session.exec(select(OutboundMessage.status, OutboundMessage.recipients, OutboundMessage.sent_at)
                        .where(OutboundMessage.origin == f"broadcast:{broadcast_id}")).all()
    counts = {"sent": 0, "dead": 0, "pending": 0, "cancelled": 0}
    sent_ids: list[str] = []
    times = []
    for status, recipients, sent_at in rows:
        size = len(recipients or [])
        key = "pending" if status in ("pending", "sending") else status
        counts[key] = counts.get(key, 0) + size
        if status == "sent":
            sent_ids.extend(recipients or [])
            if sent_at:
                times.append(sent_at)
    skipped = 0
    for start in range(0, len(sent_ids), 900):
        skipped += session.exec(select(sa.func.count(User.id)).where(
            User.line_user_id.in_(sent_ids[start:start + 900]),
            sa.or_(User.is_following.is_(False), User.processing_stopped.is_(True)))).one()
    now = now or utc_now()
    if broadcast.status == "cancelled" and not counts["pending"]:
        state = "cancelled"
    elif counts["pending"]:
        state = "scheduled" if broadcast.send_at > now else "sending"
    elif counts["dead"] and not counts["sent"]:
        state = "failed"
    else:
        state = "done"
    return Report(broadcast_id, broadcast.recipients_count, counts["sent"] - skipped, counts["dead"],
                  counts["pending"], counts["cancelled"], skipped, len(rows), broadcast.send_at,
                  min(times) if times else None, max(times) if times else None, state)


def recent_broadcasts(session: Session, *, limit: int = 20) -> list[Broadcast]:
    return list(session.exec(select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)).all())


def when_text(moment: datetime | None) -> str:
    return format_roc_datetime(moment) if moment else "—"


# --- delivering now ------------------------------------------------------------------------

def _claim_batch(database, row_ids: list[int], *, now: datetime) -> list[OutboundMessage]:
    """Claim many pending rows in one statement (pending -> sending), exactly like the outbox's
    one-row claim: a row claimed here is claimed by nobody else."""
    with database.write_session() as session:
        claimed = session.execute(
            sa.update(OutboundMessage)
            .where(OutboundMessage.id.in_(row_ids), OutboundMessage.status == "pending",
                   OutboundMessage.next_attempt_at <= now)
            .values(status="sending", attempts=OutboundMessage.attempts + 1, next_attempt_at=now)
            .returning(OutboundMessage.id)).scalars().all()
        if not claimed:
            return []
        return list(session.exec(select(OutboundMessage).where(OutboundMessage.id.in_(claimed))
                                 .order_by(OutboundMessage.id)).all())


def _inactive(database, rows: list[OutboundMessage]) -> set[str]:
    """Who among these rows' recipients unfollowed or stopped processing. One query for the
    (usually few) inactive people beats hundreds of IN (...) lookups over 500-id chunks."""
    with database.session() as session:
        inactive = set(session.exec(select(User.line_user_id).where(
            sa.or_(User.is_following.is_(False), User.processing_stopped.is_(True)))).all())
    if len(inactive) > 50_000:  # a huge unfollow list: look up only this batch's recipients
        wanted = {r for row in rows for r in (row.recipients or [])}
        return inactive & wanted
    return inactive


def deliver_broadcast(sender, *, broadcast_id: int, workers: int = 8, rate: float = MULTICAST_RATE,
                      now: datetime | None = None, batch: int = 50) -> int:
    """Send this broadcast's due chunks now, in parallel and rate-limited. Returns chunks sent.

    Same guarantees as the outbox pump (and safe beside it): rows are claimed atomically before
    any request, every request carries the row's X-Line-Retry-Key, people who unfollowed or
    stopped processing are dropped at send time, and failures go back to the outbox's own retry
    and dead-letter handling. Claiming and recording happen in batches, one short write
    transaction each, so the HTTP calls (not SQLite's write lock) set the pace."""
    now = now or utc_now()
    database = sender.database
    with database.session() as session:
        ids = list(session.exec(select(OutboundMessage.id)
                                .where(OutboundMessage.origin == f"broadcast:{broadcast_id}",
                                       OutboundMessage.status == "pending",
                                       OutboundMessage.next_attempt_at <= now)
                                .order_by(OutboundMessage.id)).all())
    if not ids:
        return 0
    limiter = TokenBucket(rate, capacity=1)
    sent_total = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in range(0, len(ids), batch):
            rows = _claim_batch(database, ids[start:start + batch], now=now)
            if not rows:
                continue
            inactive = _inactive(database, rows)

            def send(row: OutboundMessage):
                active = [r for r in (row.recipients or []) if r not in inactive]
                if not active:
                    return row, None
                limiter.take()
                return row, sender.gateway.multicast(to=active, messages=row.messages, retry_key=row.retry_key)

            results = list(pool.map(send, rows))
            sent_ids = [row.id for row, result in results if result is None or result.ok]
            if sent_ids:
                with database.write_session() as session:
                    session.execute(sa.update(OutboundMessage).where(OutboundMessage.id.in_(sent_ids))
                                    .values(status="sent", sent_at=utc_now(), sent_as="multicast", last_error=None))
                sent_total += len(sent_ids)
            for row, result in results:
                if result is None or result.ok:
                    continue
                if result.outcome in ("retry", "ambiguous"):
                    sender._retry(row, result)  # the outbox's backoff; same retry key next time
                else:
                    sender._finish(row.id, status="dead", error=f"{result.status}: {result.detail}")
    return sent_total

