"""The dispatcher: the only place where a conversation's I/O happens.

For one stored webhook event it loads the person's context, routes the input (navigation,
stale buttons, the active flow, a command, free text to the FAQ), runs the pure step, executes a
flow's ``finish`` in the same transaction, saves the new context, queues the replies in the outbox
and marks the event done — all in one commit. Sending happens after the commit.
"""
from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from bot.alarms import Alarms
from bot.db import bound_columns, execute_on_driver, insert_ignoring_duplicates, utc_now
from bot.events import Completion, event_part, event_user_id, line_id
from bot.messages import Choice, Reply, Text
from bot.models import Conversation, InboundEvent, RoleGrant, User
from bot.outbox import OutboxSender
from bot.ratelimit import flood_notice_due
from bot.services import Services, audit, find_user
from bot.texts import t
from dialogs import framework as fw
from dialogs import registry
from dialogs.parsing import says_no_or_unsure

log = logging.getLogger(__name__)

LOADING_AFTER_SECONDS = 0.8  # past this, show LINE's loading animation while we work
# A batch holding SQLite's write lock longer than this commits early when a webhook ack waits
# for it. Not at once: committing after every event when an ack waited (one every 5 ms at
# 200 events/s) cost the batch its point, and end-to-end p95 went from ~80 ms to seconds (make
# bench, e2e); 10 ms keeps the ack's wait short and most batches whole.
YIELD_TO_ACKS_AFTER_SECONDS = 0.010


_events = InboundEvent.__table__
_users, _conversations, _grants = User.__table__, Conversation.__table__, RoleGrant.__table__
# Built once: they run for every event.
_TAKE_FRESH_EVENT = (sa.update(_events)
                     .where(_events.c.id == sa.bindparam("event_id"), _events.c.status == "pending")
                     .values(status="done", attempts=_events.c.attempts + 1, processed_at=sa.bindparam("now"),
                             error=None))
_FINISH_CLAIMED_EVENT = (sa.update(_events)
                         .where(_events.c.id == sa.bindparam("event_id"), _events.c.status == "processing",
                                _events.c.attempts == sa.bindparam("claim_number"))
                         .values(status="done", processed_at=sa.bindparam("now"), error=None))


@functools.cache
def _insert_new_user(dialect_name: str) -> sa.Insert:
    """A first message's user row (ON CONFLICT DO NOTHING: a follow may race it), built once."""
    columns = ("line_user_id", "followed_at", "created_at", "is_following", "reminders_enabled", "processing_stopped")
    return insert_ignoring_duplicates(_users, dialect_name, ("line_user_id",)).values(bound_columns(_users, columns))


class LostClaim(Exception):
    """Another worker took this event over (our lease ran out): our work must not commit."""


@dataclass
class Request:
    session: Session
    ctx: fw.Context
    input: fw.UserInput
    services: Services
    argument: str = ""
    event: dict = field(default_factory=dict)
    # The event's photo, downloaded before the transaction began (Dispatcher._prefetch).
    photos: dict = field(default_factory=dict)
    # Slow work (HTTP) a step needs done once its transaction has committed: the dispatcher runs
    # it right after the commit, before this person's next event (see Dispatcher._after_commit).
    after_commit: list = field(default_factory=list)

    def photo_content(self, message_id: str) -> bytes | None:
        """The bytes of a photo this event carries, or None (LINE no longer has it, the download
        failed, or it came in another event: the flow then asks for it again). Never a download
        here: this runs inside the write transaction, and on SQLite a download of up to
        LINE_HTTP_TIMEOUT seconds would hold the one write lock every webhook ack waits for."""
        return self.photos.get(message_id)


def user_input_from_event(event: dict) -> fw.UserInput | None:
    # Fields of the wrong type are treated as absent: a signed but odd event must still get an
    # answer, not fail five times and end as "failed" (found by tests/test_fuzz_webhook.py).
    kind = event.get("type")
    if kind == "postback":
        postback = event_part(event, "postback")
        data = postback.get("data").replace("\x00", "") if isinstance(postback.get("data"), str) else ""
        params = postback.get("params") if isinstance(postback.get("params"), dict) else None
        return fw.UserInput.postback(data, params)
    if kind != "message":
        return None
    message = event_part(event, "message")
    message_type = message.get("type")
    message_id = line_id(message.get("id"))
    if message_type == "text":
        text = message.get("text")
        # NUL can't be stored in PostgreSQL text columns and means nothing to a person: dropped.
        text = text.replace("\x00", "") if isinstance(text, str) else ""
        return fw.UserInput(kind="text", text=text, message_id=message_id)
    if message_type == "location":
        # The address answers a "where is your shop" question (the region, the letter's address).
        address = message.get("address") if isinstance(message.get("address"), str) else ""
        return fw.UserInput(kind="location", text=address.replace("\x00", "")[:300], message_id=message_id)
    if message_type in ("sticker", "image", "video", "audio", "file"):
        return fw.UserInput(kind=message_type, message_id=message_id)
    return fw.UserInput(kind="unknown", message_id=message_id)


def _photo_message_id(event: dict) -> str | None:
    """The message id of a photo LINE holds for us (GET /v2/bot/message/{id}/content), or None.
    A photo whose contentProvider is "external" lives at the sender's URL, not at LINE."""
    if event.get("type") != "message":
        return None
    message = event_part(event, "message")
    if message.get("type") != "image" or event_part(message, "contentProvider").get("type", "line") != "line":
        return None
    return line_id(message.get("id"))


def main_menu_choices() -> tuple[Choice, ...]:
    return tuple(Choice(t(f"core.menu_{key}")) for key in
                 ("eligibility", "faq", "letter", "checkup", "reminders", "my_data", "staff"))


def with_menu(replies: list[Reply], menu: tuple[Choice, ...] | None = None) -> list[Reply]:
    """Attach the main menu (or the person's, ``menu``) as quick replies to the last text (or add a
    short prompt)."""
    replies, menu = list(replies), menu or main_menu_choices()
    if replies and isinstance(replies[-1], Text) and not replies[-1].quick_replies:
        replies[-1] = Text(replies[-1].text, menu)
    else:
        replies.append(Text(t("core.menu_prompt"), menu))
    return replies


def _has_current_consent(consent_version: str | None) -> bool:
    """Consent to the statement's *current* version: a new version asks again before more data
    is collected (issue 8; seed 002 捌)."""
    from dialogs.core_flows import CONSENT_VERSION

    return bool(consent_version) and consent_version == CONSENT_VERSION


def _reply_token(event: dict) -> str | None:
    return line_id(event.get("replyToken"), limit=200)  # the outbox column's size


class Dispatcher:
    def __init__(self, *, services: Services, sender: OutboxSender):
        self.services = services
        self.sender = sender
        self._alarms = Alarms()
        registry.load_all()

    # --- entry point from the event worker -------------------------------------------------
    def process(self, event_id: int, claim_number: int | None, *, payload: dict,
                received_at: datetime | None = None) -> None:
        """Handle one stored event. ``claim_number`` None: a fresh event, taken (pending -> done)
        by the processing transaction itself; otherwise the event was claimed before (the
        careful path, bot.events) and is finished only if that claim is still ours."""
        payload, prefetched, timer = self._prepare(payload)
        try:
            with self.services.database.write_session() as session:
                rows = self._process_in(session, event_id, claim_number, payload, received_at, prefetched)
        finally:
            self._alarms.cancel(timer)
        self.sender.send_claimed(rows)
        self._after_commit([prefetched])

    def process_fresh(self, events: list[tuple[int, dict, datetime | None]], *,
                      completion: Completion | None = None) -> list[int]:
        """Several fresh events (of different people) in one write transaction, each inside its
        own savepoint; returns the ids of those that failed (rolled back to their savepoint, so
        still pending: the worker counts the attempt and the sweeper retries them). Under load
        this is what keeps up: on SQLite every write transaction queues for the one write lock,
        and per event the BEGIN/COMMIT and the hand-over between processes cost as much as the
        event itself. When a webhook ack waits for that lock, the transaction commits early and
        the rest of the batch continues in the next one (replies go out after each commit).

        With a ``completion``, each commit's replies go out on the sender's threads, which report
        to it, and this returns without waiting for them. Without one, they go out here, in this
        thread. Either way the committed events' after-commit work runs here, after the hand-off."""
        prepared, failed = [], []
        for event_id, payload, received_at in events:
            try:
                prepared.append((event_id, received_at, *self._prepare(payload)))
            except Exception:
                log.exception("event processing failed", extra={"event_row": event_id})
                failed.append(event_id)
        remaining = prepared[::-1]  # popped from the end: in order
        try:
            while remaining:
                rows, committed = self._process_some(remaining, failed)
                if completion is None:
                    self.sender.send_claimed(rows)
                    self._after_commit(committed)
                    continue
                self.sender.send_claimed_in_background(rows, completion=completion)
                # Meanwhile, on this thread: the sends are on theirs, so a slow LINE call here
                # (a display name) delays no reply; the people wait for both (completion).
                self._after_commit(committed)
        finally:
            for *_, timer in prepared:
                self._alarms.cancel(timer)
        return failed

    def _process_some(self, remaining: list, failed: list[int]) -> tuple[list, list[dict]]:
        """One write transaction over events popped from ``remaining``: all of them, or fewer
        when a webhook ack has waited for SQLite's one write lock (then this commits what is done
        and lets it through; holding the lock for a whole batch made acks wait tens of
        milliseconds and capped them near 400/s). Returns the outbox rows to send and the
        prefetched data of the events that committed (their after-commit work)."""
        database = self.services.database
        rows: list = []
        committed: list[dict] = []
        with database.write_session() as session:
            began = time.monotonic()
            while remaining:
                event_id, received_at, payload, prefetched, _timer = remaining.pop()
                try:
                    with session.begin_nested():
                        rows.extend(self._process_in(session, event_id, None, payload, received_at, prefetched))
                    committed.append(prefetched)
                except Exception:
                    log.exception("event processing failed", extra={"event_row": event_id})
                    failed.append(event_id)
                if remaining and time.monotonic() - began > YIELD_TO_ACKS_AFTER_SECONDS and database.acks_waiting():
                    break
        return rows, committed

    @staticmethod
    def _after_commit(prefetched_of_events: list[dict]) -> None:
        """Run what the committed events' steps asked for (``Request.after_commit``), once their
        replies are sent or on their way, and before these people's next events are taken (the
        worker releases a person only after this returns). A failure is logged and skipped: such
        work is a nicety (a display name), never the event itself."""
        for prefetched in prefetched_of_events:
            for work in prefetched.get("after_commit", ()):
                try:
                    work()
                except Exception:
                    log.exception("after-commit work failed")

    def _prepare(self, payload: dict) -> tuple[dict, dict, int | None]:
        """Before the transaction: a private copy of the payload, the HTTP reads it needs (never
        hold a database lock across the network) and the loading animation's alarm."""
        payload = dict(payload) if isinstance(payload, dict) else {}
        return payload, self._prefetch(payload), self._loading_timer(event_user_id(payload), payload)

    def _process_in(self, session: Session, event_id: int, claim_number: int | None, payload: dict,
                    received_at: datetime | None, prefetched: dict) -> list:
        """The work of one event inside the caller's transaction; returns the claimed outbox rows
        to send once it commits."""
        received_at = received_at or utc_now()
        user_id = event_user_id(payload)
        if claim_number is None:
            # First statement: on PostgreSQL the row lock makes a concurrent worker wait
            # here and then find the event done; on SQLite the write lock is held already.
            taken = execute_on_driver(session, _TAKE_FRESH_EVENT, {"event_id": event_id, "now": utc_now()})
            if taken.rowcount != 1:
                return []  # handled already (a redelivery raced us, or the sweeper's claim)
        replies, reply_user = self.handle(session, payload, prefetched)
        if replies and flood_notice_due(session, event_id=event_id, user_id=user_id, received_at=received_at):
            replies = [Text(t("core.slow_down")), *replies]  # once per flood (bot.ratelimit)
        rows = self.sender.enqueue_claimed_reply(
            session, user_id=reply_user or user_id, reply_token=_reply_token(payload),
            received_at=received_at, replies=replies,
            idempotency_key=f"event:{payload.get('webhookEventId')}", origin=f"event:{event_id}")
        if claim_number is not None:
            done = execute_on_driver(session, _FINISH_CLAIMED_EVENT, {
                "event_id": event_id, "claim_number": claim_number, "now": utc_now()})
            if done.rowcount != 1:
                raise LostClaim(event_id)
        return rows

    def _loading_timer(self, user_id: str | None, payload: dict) -> int | None:
        if not user_id or payload.get("type") not in ("message", "postback"):
            return None
        if event_part(payload, "source").get("type") != "user":
            return None  # the loading animation exists only in one-to-one chats
        return self._alarms.schedule(LOADING_AFTER_SECONDS, self.services.gateway.show_loading,
                                     chat_id=user_id, seconds=10)

    def _prefetch(self, payload: dict) -> dict:
        # "after_commit": filled by the event's steps (Request.after_commit), run by _after_commit.
        prefetched: dict[str, Any] = {"after_commit": []}
        user_id = event_user_id(payload)
        if payload.get("type") == "follow" and user_id:
            prefetched["profile"] = self.services.gateway.get_profile(user_id)
        photo_id = _photo_message_id(payload)
        if photo_id and user_id:
            # Every photo a person sends is fetched, in a photo step or not: photos are rare
            # here (用印頁, visit photos), and deciding would mean reading their state twice.
            prefetched["photos"] = {photo_id: self.services.gateway.get_content(photo_id)}
        return prefetched

    # --- routing ----------------------------------------------------------------------------
    def handle(self, session: Session, event: dict, prefetched: dict | None = None) -> tuple[list[Reply], str | None]:
        prefetched = prefetched or {}
        if event.get("mode") == "standby":
            return [], None  # another channel owns the chat (module mode): we must stay silent
        source = event_part(event, "source")
        kind = event.get("type")
        user_id = event_user_id(event)
        if source.get("type") in ("group", "room"):
            if kind == "join":
                return [Text(t("core.group_hello"))], None
            return [], None  # the assistant works in one-to-one chats; groups are left alone
        if not user_id:
            return [], None
        if kind == "follow":
            return self._on_follow(session, user_id, event, prefetched.get("profile")), user_id
        if kind == "unfollow":
            self._on_unfollow(session, user_id)
            return [], user_id
        user_input = user_input_from_event(event)
        if user_input is None:
            return [], user_id  # beacon, accountLink, unsend, videoPlayComplete…: nothing to say
        known, consent_version, has_conversation, roles = self._person(session, user_id)
        if not known:
            self._record_user(session, user_id)
        conversation = self._conversation(session, user_id) if has_conversation else None
        ctx = self._context(user_id, consent_version, conversation, roles)
        request = Request(session=session, ctx=ctx, input=user_input, services=self.services, event=event,
                          photos=prefetched.get("photos", {}), after_commit=prefetched.get("after_commit", []))
        turn = self.route(request)
        new_ctx, replies = self._complete(request, turn)
        self._save(session, user_id, conversation, new_ctx)
        return replies, user_id

    def route(self, request: Request) -> fw.Turn:
        ctx, user_input = request.ctx, request.input
        active = registry.flow(ctx.flow) if ctx.flow else None
        if active is not None:
            resumed = fw.handle_resume_answer(active, ctx, user_input)
            if resumed is not None:
                return resumed
            if fw.needs_resume_offer(ctx):
                return fw.resume_offer(active, ctx)
            if user_input.kind == "postback" and "c" in user_input.data:
                return self._command_by_postback(request)
            reading = None  # the input read against the question, once: advance() acts on it

            def answers() -> bool:
                nonlocal reading
                reading = reading or fw.read(active, ctx, user_input)
                return reading.answers

            if user_input.kind == "text":
                found = registry.find_command(user_input.text)
                # A command word that starts a *different* conversation pauses this one.
                if found and found[0].name not in ("menu",) and not fw.nav_of(user_input):
                    cmd, argument = found
                    interrupts = cmd.interrupts(ctx) if callable(cmd.interrupts) else cmd.interrupts
                    if interrupts and not answers():
                        return self._run_command(request, cmd, argument, pause_current=True)
                # The cheap classification first: most texts mid-form are not small talk.
                # 「沒有」「不知道」 answer the question, even where they cannot be taken (a 統編): the
                # step says what to do, not 「好的！」.
                if (request.services.kb is not None and request.services.kb.is_small_talk(user_input.text)
                        and not fw.nav_of(user_input) and not says_no_or_unsure(user_input.text)
                        and not answers()):
                    # 「謝謝」 mid-form: a friendly word back, then the same question (not "invalid").
                    return fw.faq_then_resume(active, ctx, user_input.text)
            return fw.advance(active, ctx, user_input, reading)
        # No conversation in progress.
        if user_input.kind == "postback":
            if "c" in user_input.data:
                return self._command_by_postback(request)
            # A flow button with no conversation to belong to (finished, cancelled, another phone).
            return fw.Turn(ctx, [Text(t("core.button_expired_no_flow"))], show_menu=True)
        if user_input.kind == "sticker":
            return fw.Turn(ctx, [Text(t("core.sticker_idle"))], show_menu=True)
        if user_input.kind in fw.MEDIA_KINDS or user_input.kind == "unknown":
            media = t(f"core.media_{user_input.kind}") if user_input.kind in fw.MEDIA_KINDS else t("core.media_file")
            return fw.Turn(ctx, [Text(t("core.media_idle", media=media))], show_menu=True)
        text = user_input.text
        if not text.strip():
            return fw.Turn(ctx, [Text(t("core.empty_input"))], show_menu=True)
        found = registry.find_command(text)
        if found:
            return self._run_command(request, found[0], found[1])
        return self.free_text(request)

    def _command_by_postback(self, request: Request) -> fw.Turn:
        cmd = registry.command_by_name(request.input.data.get("c", ""))
        if cmd is None:
            return fw.Turn(request.ctx, [Text(t("core.button_expired_no_flow"))], show_menu=True)
        return self._run_command(request, cmd, request.input.data.get("arg", ""))

    def _run_command(self, request: Request, cmd: registry.Command, argument: str,
                     pause_current: bool = False) -> fw.Turn:
        ctx = request.ctx
        handler = cmd.handler
        if cmd.role and cmd.role not in ctx.roles:
            if cmd.others is not None:
                handler = cmd.others  # declared: their own view, not a refusal
            else:
                # Declared permission: refuse politely, reveal nothing, keep a record.
                audit(request.session, actor=ctx.user_id, action="permission_denied", target=cmd.name,
                      required_role=cmd.role)
                if cmd.role == "advisor" and "staff" in ctx.roles:
                    return registry.staff_dashboard_turn(ctx)
                if cmd.refusal is not None:
                    return cmd.refusal(request)
                return fw.Turn(ctx, [Text(t("core.no_permission"))], show_menu=True)  # a way forward
        if pause_current and ctx.flow:
            ctx = ctx.set_aside()
        request.ctx = ctx
        request.argument = argument
        return handler(request)

    def free_text(self, request: Request) -> fw.Turn:
        for interceptor in registry.FREE_TEXT_INTERCEPTORS:
            turn = interceptor(request)
            if turn is not None:
                return turn
        handler = registry.FREE_TEXT_HANDLER
        if handler is None:
            return fw.Turn(request.ctx, [Text(t("core.menu_prompt"))], show_menu=True)
        return handler(request)

    # --- turning a Turn into state and replies --------------------------------------------
    def _complete(self, request: Request, turn: fw.Turn, depth: int = 0) -> tuple[fw.Context, list[Reply]]:
        ctx, replies = turn.ctx, list(turn.replies)
        if turn.faq:
            faq_request = Request(request.session, ctx, fw.UserInput.text_input(turn.faq), self.services)
            faq_turn = self.free_text(faq_request)
            replies = [*faq_turn.replies, *replies]
        if turn.start_flow and depth < 3:
            flow = registry.flow(turn.start_flow)
            if flow is not None:
                started = self.start_flow(request.session, ctx, flow, prefill=turn.prefill)
                ctx, more = self._complete(request, started, depth + 1)
                replies = [*replies, *more]
        elif turn.finish and ctx.flow:
            flow = registry.flow(ctx.flow)
            if flow is not None:
                request.ctx = ctx
                finished = flow.finish(request)
                ctx, more = self._complete(request, finished, depth + 1)
                replies = [*replies, *more]
        if turn.show_menu:
            menu = registry.MENU_FOR(request.session, ctx.user_id) if registry.MENU_FOR and not ctx.roles else None
            replies = with_menu(replies, menu)
        return ctx, replies

    def start_flow(self, session: Session, ctx: fw.Context, flow: fw.Flow, prefill: dict | None = None) -> fw.Turn:
        if flow.requires_consent and not ctx.consented:
            consent = registry.flow(fw.FlowId.CONSENT)
            ctx = ctx.remember(after_consent=flow.id.value, after_consent_prefill=prefill or None)
            return fw.start(consent, ctx)
        return fw.start(flow, ctx, prefill=prefill)

    # --- people and state -------------------------------------------------------------------
    # The hot path (every message) uses statements built once, with bound parameters: building a
    # select and loading ORM objects costs ~4x a prebuilt Core statement, and the event worker
    # is CPU-bound (make bench, e2e section). Objects other code may change in the same
    # transaction (the Conversation, see privacy.erasure) stay ORM objects.
    # What every message needs to know about its sender, in one statement instead of three
    # (each costs ~0.1 ms of SQLAlchemy around the database's microseconds): known at all, the
    # privacy statement version agreed to, a conversation row, the roles (comma-joined).
    _PERSON = sa.select(
        sa.select(sa.literal(1)).where(_users.c.line_user_id == sa.bindparam("user_id")).exists(),
        sa.select(_users.c.consent_version).where(_users.c.line_user_id == sa.bindparam("user_id"))
        .scalar_subquery(),
        sa.select(sa.literal(1)).where(_conversations.c.line_user_id == sa.bindparam("user_id")).exists(),
        sa.select(sa.func.aggregate_strings(_grants.c.role, ","))
        .where(_grants.c.line_user_id == sa.bindparam("user_id")).scalar_subquery())

    def _person(self, session: Session, user_id: str) -> tuple[bool, str | None, bool, frozenset[str]]:
        """(known, consent version, has a conversation row, roles) of one person."""
        known, consent_version, has_conversation, roles = execute_on_driver(
            session, self._PERSON, {"user_id": user_id}).fetchone()
        return bool(known), consent_version, bool(has_conversation), frozenset(filter(None, (roles or "").split(",")))

    def _record_user(self, session: Session, user_id: str) -> None:
        """A first message from someone the bot has not met (no follow event seen)."""
        now = utc_now()
        execute_on_driver(session, _insert_new_user(session.connection().dialect.name), {
            "line_user_id": user_id, "followed_at": now, "created_at": now, "is_following": True,
            "reminders_enabled": True, "processing_stopped": False})

    def _on_follow(self, session: Session, user_id: str, event: dict, profile: dict | None) -> list[Reply]:
        user = find_user(session, user_id)
        unblocked = bool(event_part(event, "follow").get("isUnblocked"))
        returning = user is not None or unblocked
        if user is None:
            user = User(line_user_id=user_id)
        user.is_following = True
        user.followed_at = utc_now()
        name = (profile or {}).get("display_name") or ""
        if _has_current_consent(user.consent_version) and name:
            user.display_name = name[:200]  # personal data: only with consent on record
        session.add(user)
        audit(session, actor=user_id, action="follow", unblocked=unblocked, returning=returning)
        greeting = t("core.welcome_back" if returning else "core.welcome", name=f"{name}，" if name else "")
        return with_menu([Text(greeting)])

    def _on_unfollow(self, session: Session, user_id: str) -> None:
        user = find_user(session, user_id)
        if user is None:
            return
        user.is_following = False
        user.unfollowed_at = utc_now()
        session.add(user)
        audit(session, actor=user_id, action="unfollow")

    def _conversation(self, session: Session, user_id: str) -> Conversation | None:
        """The person's conversation row, locked for this transaction (PostgreSQL: two workers
        never interleave one person's turns). A first-time writer has none (see ``_person``):
        ``_save`` creates it only if the turn left something to remember."""
        return session.get(Conversation, user_id, with_for_update=True)

    def _context(self, user_id: str, consent_version: str | None, conversation: Conversation | None,
                 roles: frozenset[str]) -> fw.Context:
        consented = _has_current_consent(consent_version)
        if conversation is None:
            return fw.Context(user_id=user_id, now=utc_now(), roles=roles, consented=consented,
                              services=self.services)
        return fw.Context(
            user_id=user_id, now=utc_now(), flow=conversation.flow, step=conversation.step,
            session_id=conversation.session_id, data=dict(conversation.data or {}),
            history=tuple(conversation.history or ()), memory=dict(conversation.memory or {}),
            updated_at=conversation.updated_at if conversation.flow else None, roles=roles,
            consented=consented, services=self.services)

    def _save(self, session: Session, user_id: str, conversation: Conversation | None, ctx: fw.Context) -> None:
        if conversation is None:
            if not (ctx.flow or ctx.data or ctx.history or ctx.memory):
                return  # a first message that started nothing: no state worth a row
            conversation = Conversation(line_user_id=user_id)
        elif not ctx.flow and (conversation.flow, conversation.step, conversation.session_id, conversation.data,
                               conversation.history, conversation.memory) == (
                ctx.flow, ctx.step, ctx.session_id, dict(ctx.data), list(ctx.history), dict(ctx.memory)):
            return  # idle and unchanged: updated_at only matters to a flow in progress (resume offer)
        if ctx.flow and not conversation.flow:
            conversation.started_at = utc_now()
        conversation.flow = ctx.flow
        conversation.step = ctx.step
        conversation.session_id = ctx.session_id
        conversation.data = dict(ctx.data)
        conversation.history = list(ctx.history)
        conversation.memory = dict(ctx.memory)
        conversation.updated_at = utc_now()
        session.add(conversation)

