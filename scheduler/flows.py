"""Chat side of reminders: booking a visit (FlowId.VISIT_BOOKING), 「我的提醒」, 「停止提醒」,
「開啟提醒」, and the owner's answers to a visit reminder (確認訪視 / 申請改期 postbacks)."""
from __future__ import annotations


import re

from bot.messages import Choice, Text, encode_postback
from bot.models import User
from bot.services import audit, find_user
from bot.texts import t
from bot.timeutil import format_roc_date, format_roc_datetime, to_taipei
from dialogs import framework as fw
from dialogs.registry import command, intercept_free_text, register_flow
from scheduler.service import upcoming_for
from scheduler.settings import default_schedule, schedules_for
from visits import booking
from visits.parse import parse_mode


# --- visit booking ------------------------------------------------------------------------

def _companies(ctx: fw.Context) -> list[list]:
    return (ctx.memory.get("booking") or {}).get("companies") or []


def _ask_company(ctx: fw.Context):
    options = _companies(ctx)[:12]  # 12 + 取消 fit LINE's 13 quick replies
    return [Text(t("reminders.booking_ask_company"),
                 (*(ctx.choice(str(name), str(cid)) for cid, name in options), Choice(t("core.nav_cancel"))))]


def _parse_company(ctx: fw.Context, user_input: fw.UserInput) -> int:
    answer = user_input.answer_text.strip()
    for cid, name in _companies(ctx):
        if answer == str(cid) or (answer and answer == str(name)):
            return int(cid)
    matches = [cid for cid, name in _companies(ctx) if answer and answer in str(name)]
    if len(matches) == 1:
        return int(matches[0])
    raise fw.Invalid(t("reminders.booking_ask_company"))


# A day typed without a time (「115/3/2」「下週三下午」) is kept while the time is asked, instead of
# 「看不懂這個時間」 that made the owner type the day again.
WHEN_DAY = "_when_day"
_HOURS = {"morning": ("上午9點", "上午10點", "上午11點"), "afternoon": ("下午2點", "下午3點", "下午4點"),
          "any": ("上午10點", "下午2點", "下午4點")}


def _ask_when(ctx: fw.Context):
    day = ctx.data.get(WHEN_DAY)
    if day:
        from datetime import date

        hours = _HOURS.get(ctx.data.get("_when_part") or "any", _HOURS["any"])
        return [Text(t("reminders.booking_ask_hour", day=format_roc_date(date.fromisoformat(day))),
                     (*(ctx.choice(hour, hour) for hour in hours), Choice(t("core.nav_back")),
                      Choice(t("core.nav_cancel"))))]
    return [Text(t("reminders.booking_ask_when"), (
        ctx.picker(t("reminders.booking_pick"), "datetime", min=booking.picker_min(ctx.now)),
        Choice(t("core.nav_cancel"))))]


def _parse_when(ctx: fw.Context, user_input: fw.UserInput):
    text = user_input.answer_text
    moment = booking.parse_when(text, now=ctx.now)
    if moment is None and ctx.data.get(WHEN_DAY):
        moment = booking.time_on(ctx.data[WHEN_DAY], text)
    if moment is None:
        day = booking.parse_day_only(text, now=ctx.now)
        if day is None:
            raise fw.Invalid(t("reminders.booking_bad_when"))
        if day < to_taipei(ctx.now).date():
            raise fw.Invalid(t("reminders.booking_past_when"), looks_like_question=False)
        part = "morning" if any(w in text for w in ("上午", "早上")) else (
            "afternoon" if any(w in text for w in ("下午", "午後")) else "any")
        return {WHEN_DAY: day.isoformat(), "_when_part": part}
    if moment <= ctx.now:
        raise fw.Invalid(t("reminders.booking_past_when"), looks_like_question=False)
    return moment.isoformat()


def _store_when(ctx: fw.Context, value) -> fw.Context:
    data = {k: v for k, v in ctx.data.items() if k not in (WHEN_DAY, "_when_part")}
    if isinstance(value, dict):  # a day without its time: asked next
        return ctx.evolve(data={**data, **value})
    return ctx.evolve(data=data).with_answer("when", value)


def _ask_mode(ctx: fw.Context):
    return [Text(t("reminders.booking_ask_mode"),
                 tuple(ctx.choice(booking.mode_label(mode), mode) for mode in booking.MODES))]


def _parse_mode(ctx: fw.Context, user_input: fw.UserInput) -> str:
    mode = parse_mode(user_input.answer_text)  # 現地 / 到府 / 視訊 / 線上會議 …, as advisors type them
    if mode not in booking.MODES:
        raise fw.Invalid(t("reminders.booking_bad_mode"))
    return mode


def _company_name(ctx: fw.Context, value) -> str:
    return next((str(name) for cid, name in _companies(ctx) if int(cid) == int(value)), "—")


def _when_display(ctx: fw.Context, value) -> str:
    from datetime import datetime

    return format_roc_datetime(datetime.fromisoformat(value))


def _prefill(ctx: fw.Context) -> dict:
    companies = _companies(ctx)
    return {"company": int(companies[0][0])} if len(companies) == 1 else {}


def _finish_booking(request) -> fw.Turn:
    from datetime import datetime

    ctx = request.ctx
    company_id = int(ctx.data["company"])
    if company_id not in {int(cid) for cid, _ in _companies(ctx)}:
        return fw.Turn(ctx.cleared().forget("booking"), [Text(t("core.no_permission"))], show_menu=True)
    config = request.services.config
    visit = booking.book_visit(request.session, company_id=company_id, booked_by=ctx.user_id,
                               scheduled_at=datetime.fromisoformat(ctx.data["when"]), mode=ctx.data["mode"],
                               schedule=default_schedule(config), now=ctx.now)
    text = t("reminders.booking_done", when=format_roc_datetime(visit.scheduled_at),
             mode=booking.mode_label(visit.mode), company=_company_name(ctx, company_id))
    return fw.Turn(ctx.cleared().forget("booking"), [Text(text)], show_menu=True)


VISIT_BOOKING = register_flow(fw.Flow(
    id=fw.FlowId.VISIT_BOOKING,
    title=t("reminders.booking_title"),
    help=t("reminders.booking_help"),
    steps=(
        fw.Step("company", t("reminders.booking_label_company"), _ask_company, _parse_company,
                display=_company_name),
        fw.Step("when", t("reminders.booking_label_when"), _ask_when, _parse_when, display=_when_display,
                store=_store_when, pending=(WHEN_DAY, "_when_part")),
        fw.Step("mode", t("reminders.booking_label_mode"), _ask_mode, _parse_mode,
                display=lambda ctx, v: booking.mode_label(v)),
    ),
    finish=_finish_booking,
    prefill=_prefill,
    summary_title=t("reminders.booking_title"),
))


@command("visit_booking", "預約訪視", "約訪視", "預約輔導", "約顧問")
def start_booking(request) -> fw.Turn:
    ctx = request.ctx
    options = booking.booking_options(request.session, user_id=ctx.user_id, roles=ctx.roles)
    if not options["companies"]:
        key = "booking_advisor_no_company" if options["role"] == "advisor" else "booking_no_company"
        return fw.Turn(ctx, [Text(t(f"reminders.{key}"))], show_menu=True)
    return fw.Turn(ctx.remember(booking=options), [], start_flow=fw.FlowId.VISIT_BOOKING.value)


# --- answers to a visit reminder ---------------------------------------------------------

def _answer_visit(request, answer, reply) -> fw.Turn:
    """確認訪視 / 申請改期 from a reminder's buttons. A stale button (the visit was cancelled or
    moved, or is not theirs) is told so instead."""
    argument = (request.argument or "").strip()
    return _answer_visit_by_id(request, int(argument) if argument.isdigit() else None, answer, reply)


@command("visit_confirm")
def confirm_visit(request) -> fw.Turn:
    return _answer_visit(request, booking.confirm_visit, lambda visit: t(
        "reminders.visit_confirmed", when=format_roc_datetime(visit.scheduled_at), mode=booking.mode_label(visit.mode)))


@command("visit_reschedule")
def reschedule_visit(request) -> fw.Turn:
    return _answer_visit(request, booking.request_reschedule, lambda visit: t("reminders.visit_reschedule_asked"))


# Owners answer the evening reminder in words as often as with its buttons: 「好」 then means the
# time suits them, and 「可以改期嗎」 that it does not (the FAQ had no idea which visit was meant).
_ACK = frozenset({"好", "好的", "好喔", "好哦", "好唷", "好滴", "ok", "okay", "ok的", "知道了", "收到", "了解",
                  "沒問題", "可以", "確認", "確定", "準時", "👌", "👍", "ok👌", "好👌"})
_RESCHEDULE = re.compile(r"改期|改時間|換時間|換個時間|改約|(訪視|輔導|顧問).{0,8}(延期|延後|取消)")
# 「活動可以改期嗎」「導入期限可以延期嗎」 are about something else: the FAQ's, not a visit's.
_OTHER_TOPIC = re.compile(r"活動|前測|後測|期限|截止|導入|意向書|提案|查核")


def _ack(text: str) -> bool:
    key = fw.squash(text).rstrip("?？喔哦唷啦囉")
    return key in _ACK or (key.rstrip("!！") in _ACK)


@intercept_free_text
def visit_reply_in_words(request) -> fw.Turn | None:
    """「好」 after the evening reminder confirms the visit; 「可以改期嗎」 offers 「申請改期」 for the
    owner's next visit (or 「預約訪視」 when none is booked). Outside a form only, and only when the
    person has such a visit: everyone else's 「好」 stays small talk."""
    ctx = request.ctx
    if request.input.kind != "text" or ctx.flow or len(request.input.text) > 30:
        return None
    text = request.input.text
    if _ack(text):
        visit = booking.visit_awaiting_answer(request.session, user_id=ctx.user_id, now=ctx.now)
        if visit is None:
            return None
        return _answer_visit_by_id(request, visit.id, booking.confirm_visit, lambda v: t(
            "reminders.visit_confirmed", when=format_roc_datetime(v.scheduled_at), mode=booking.mode_label(v.mode)))
    if not _RESCHEDULE.search(text) or _OTHER_TOPIC.search(text) or "advisor" in ctx.roles:
        return None
    found = booking.next_visit_of(request.session, user_id=ctx.user_id, now=ctx.now)
    if found is None:
        options = booking.booking_options(request.session, user_id=ctx.user_id, roles=ctx.roles)
        if not options["companies"]:
            return None
        return fw.Turn(ctx, [Text(t("reminders.reschedule_none"), (Choice(t("reminders.booking_button")),))])
    visit, company = found
    button = Choice(t("reminders.visit_reschedule_button"), data=encode_postback(c="visit_reschedule", arg=visit.id),
                    display=t("reminders.visit_reschedule_button"))
    return fw.Turn(ctx, [Text(t("reminders.reschedule_offer", when=format_roc_datetime(visit.scheduled_at),
                                mode=booking.mode_label(visit.mode), company=company.name or ""), (button,))])


def _answer_visit_by_id(request, visit_id: int | None, answer, reply) -> fw.Turn:
    visit = answer(request.session, visit_id=visit_id, user_id=request.ctx.user_id) if visit_id else None
    return fw.Turn(request.ctx, [Text(reply(visit) if visit is not None else t("reminders.visit_not_found"))])


# --- 我的提醒 / 停止提醒 / 開啟提醒 -----------------------------------------------------------

def _user(request) -> User | None:
    return find_user(request.session, request.ctx.user_id)


@command("my_reminders", "我的提醒", "提醒", "我的行程", "查提醒")
def my_reminders(request) -> fw.Turn:
    ctx = request.ctx
    user = _user(request)
    items = upcoming_for(request.session, user_id=ctx.user_id, schedules=schedules_for(request.services.config),
                         config=request.services.config,
                         now=ctx.now)
    enabled = user is None or user.reminders_enabled
    note = t("reminders.my_reminders_on_hint") if enabled else t("reminders.my_reminders_off")
    toggle = Choice(t("reminders.stop_button")) if enabled else Choice(t("reminders.start_button"))
    if not items:
        return fw.Turn(ctx, [Text(f"{t('reminders.my_reminders_empty')}\n{note}", (toggle,))])
    lines = [t("reminders.my_reminders_item", when=format_roc_datetime(at), what=what) for at, what in items]
    return fw.Turn(ctx, [Text("\n".join([t("reminders.my_reminders_title"), *lines, "", note]), (toggle,))])


def _set_reminders(request, enabled: bool) -> fw.Turn:
    user = _user(request)
    if user is None:
        return fw.Turn(request.ctx, [Text(t("core.no_permission"))])
    if user.reminders_enabled == enabled:
        key = "reminders_already_on" if enabled else "reminders_already_off"
    else:
        user.reminders_enabled = enabled
        request.session.add(user)
        audit(request.session, actor=user.line_user_id, action="reminders_enabled" if enabled else "reminders_stopped")
        key = "reminders_started" if enabled else "reminders_stopped"
    return fw.Turn(request.ctx, [Text(t(f"reminders.{key}"))], show_menu=True)


@command("reminders_stop", "停止提醒", "關閉提醒", "不要提醒", "取消提醒")
def stop_reminders(request) -> fw.Turn:
    return _set_reminders(request, False)


@command("reminders_start", "開啟提醒", "打開提醒", "恢復提醒", "重新提醒")
def start_reminders(request) -> fw.Turn:
    return _set_reminders(request, True)
