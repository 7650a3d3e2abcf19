"""Activities in chat.

* Staff: 「/活動」 creates an activity step by step (type, title, time, length, place or link,
  seats, whom to invite) and sends the invitation to a segment; 「/活動列表」; 「/簽到碼」 shows the
  code, the check-in page with its QR code; 「/取消活動 #3」.
* Invited people: the card's 「報名」/「不克參加」 (postbacks bound to the activity); 「我的活動」.
* At the venue: 「簽到 1234」 (typed, or sent by scanning the QR code) is the sign-in sheet's row.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from activities import service
from activities.settings import activity_settings
from bot.messages import Card, Choice, Image, Text, encode_postback
from bot.texts import t
from bot.timeutil import format_roc_datetime, to_taipei
from broadcasts import scheduled as broadcasts_scheduled
from broadcasts import service as broadcasts
from broadcasts.flows import AUDIENCE_STEPS, parse_future_datetime
from dialogs import framework as fw
from dialogs import registry
from dialogs.parsing import cn_to_int, words_refusal
from visits.parse import parse_duration

URL = re.compile(r"https?://\S+", re.IGNORECASE)
# Wrong codes allowed per person in WRONG_CODE_WINDOW before check-in pauses (a 4-digit code
# must not be guessable from home).
WRONG_CODE_LIMIT = 5
WRONG_CODE_WINDOW_MINUTES = 10


def _config(ctx):
    return ctx.services.config if ctx.services is not None else {}


def _settings(ctx, program_id: str | None = None):
    return activity_settings(_config(ctx), program_id)


def settings_of(config):
    return lambda program_id: activity_settings(config, program_id)


def _id_of(text: str | None) -> int | None:
    digits = (text or "").strip().lstrip("#＃").split(":")[0]
    return int(digits) if digits.isdigit() and 0 < int(digits) < 2**31 else None


# --- staff: 「/活動」 ------------------------------------------------------------------------

def _ask_kind(ctx):
    kinds = _settings(ctx).kinds
    return [Text(t("activities.ask_kind"), (*(ctx.choice(label, kind) for kind, label in kinds.items()),
                                            Choice(t("core.nav_cancel"))))]


def _parse_kind(ctx, user_input) -> str:
    answer = user_input.answer_text.strip()
    for kind, label in _settings(ctx).kinds.items():
        if answer in (kind, label):
            return kind
    raise fw.Invalid(t("activities.kind_invalid"))


def _ask_title(ctx):
    return [Text(t("activities.ask_title"))]


def _parse_title(ctx, user_input) -> str:
    title = " ".join(user_input.answer_text.split())
    if not title:
        raise fw.Invalid(t("activities.err_title"), looks_like_question=False)
    if len(title) > service.TITLE_LIMIT:
        raise fw.Invalid(t("activities.err_title_long", limit=service.TITLE_LIMIT), looks_like_question=False)
    return title


def _ask_starts(ctx):
    now = to_taipei(ctx.now)
    return [Text(t("activities.ask_starts"), (
        ctx.picker(t("activities.pick_time"), "datetime", initial=now.strftime("%Y-%m-%dT14:00"),
                   min=now.strftime("%Y-%m-%dT%H:%M")),
        Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


DURATIONS = ((60, "1 小時"), (90, "1.5 小時"), (120, "2 小時"), (180, "3 小時"), (240, "半天（4 小時）"))


def _ask_minutes(ctx):
    return [Text(t("activities.ask_minutes"), (*(ctx.choice(label, str(m)) for m, label in DURATIONS),
                                               Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


def _parse_minutes(ctx, user_input) -> int:
    answer = user_input.answer_text.strip()
    minutes = int(answer) if answer.isdigit() and user_input.kind == "postback" else parse_duration(answer)
    if minutes is None and re.fullmatch(r"\d+(\.\d+)?", answer):
        value = float(answer)
        minutes = int(value * 60) if value <= 12 else int(value)  # "2" hours, "90" minutes
    if not minutes or not 15 <= minutes <= 12 * 60:
        raise fw.Invalid(t("activities.err_duration"))
    return minutes


def _ask_where(ctx):
    return [Text(t("activities.ask_where"))]


def _parse_where(ctx, user_input) -> dict:
    answer = user_input.answer_text.strip()
    links = URL.findall(answer)
    place = " ".join(URL.sub(" ", answer).split()).strip(" ，,、") or None
    if place in ("線上", "線上活動", "online"):
        place = t("activities.online_place")
    found = {"place": place, "online_url": links[0] if links else None}
    if not place and not links:
        raise fw.Invalid(t("activities.err_where"), looks_like_question=False)
    if place == t("activities.online_place") and not links:
        raise fw.Invalid(t("activities.online_needs_link"), looks_like_question=False)
    problems = service.validate_where(**found)
    if problems:
        raise fw.Invalid(problems[0], looks_like_question=False)
    return found


def _where_display(ctx, value) -> str:
    value = value or {}
    return "、".join(v for v in (value.get("place"), value.get("online_url")) if v) or "—"


UNLIMITED = ("不限", "不限制", "沒有限制", "無限制", "沒限制", "不設限", "無")


def _ask_capacity(ctx):
    return [Text(t("activities.ask_capacity"), (ctx.choice("20", "20"), ctx.choice("30", "30"), ctx.choice("50", "50"),
                                                ctx.choice(t("activities.capacity_unlimited"), "0"),
                                                Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


def _parse_capacity(ctx, user_input) -> int:
    answer = unicodedata.normalize("NFKC", user_input.answer_text).strip()
    if answer in UNLIMITED or answer == t("activities.capacity_unlimited") or answer == "0":
        return 0
    number = re.sub(r"(個人|個|人|位|名|席)$", "", answer.replace(" ", ""))
    value = cn_to_int(number) if number else None
    if value is None or not 1 <= value <= 10_000:
        raise fw.Invalid(t("activities.err_capacity"))
    return value


def _capacity_display(ctx, value) -> str:
    return t("activities.capacity_value", capacity=value) if value else t("activities.capacity_unlimited")


def _starts_display(ctx, value) -> str:
    return format_roc_datetime(datetime.fromisoformat(value)) if value else "—"


def _minutes_display(ctx, value) -> str:
    return next((label for m, label in DURATIONS if m == value), t("activities.minutes_value", minutes=value))


def _prefill(ctx) -> dict:
    return dict(ctx.memory.get("activity_prefill") or {})


def _finish_create(request) -> fw.Turn:
    ctx, session = request.ctx, request.session
    settings = _settings(ctx)
    kind, value = ctx.data["audience"], ctx.data.get("audience_value")
    count = broadcasts.count_audience(session, kind=kind, value=value if kind in broadcasts.NEEDS_VALUE else None)
    if count == 0:
        again = ctx.without_answer("audience_value").without_answer("audience")
        return fw.current_question(ACTIVITY_FLOW, again, [Text(t("activities.empty_audience"))])
    where = ctx.data.get("where") or {}
    try:
        activity = service.create_activity(
            session, actor=ctx.user_id, source="chat", kind=ctx.data["kind"], title=ctx.data["title"],
            starts_at=datetime.fromisoformat(ctx.data["starts"]), minutes=ctx.data.get("minutes"),
            place=where.get("place"), online_url=where.get("online_url"), capacity=ctx.data.get("capacity") or None,
            settings=settings, now=ctx.now)
    except service.ActivityError:
        # The time passed while the summary waited: ask it again.
        return fw.current_question(ACTIVITY_FLOW, ctx.without_answer("starts"), [Text(t("activities.err_past"))])
    broadcast = service.invite(session, activity=activity, actor=ctx.user_id, source="chat", audience_kind=kind,
                               audience_value=value if kind in broadcasts.NEEDS_VALUE else None,
                               settings=settings, quiet_hours=broadcasts.quiet_hours(_config(ctx)), now=ctx.now)
    broadcasts_scheduled.deliver_soon(request.services.get("outbox_sender"), broadcast_id=broadcast.id)
    card = Card(title=t("activities.created_title"), rows=(
        (t("activities.label_kind"), settings.kind_label(activity.kind)),
        (t("activities.label_title"), activity.title),
        (t("activities.label_when"), service.when_text(activity)),
        (t("activities.label_where"), service.where_text(activity)),
        (t("activities.label_capacity"), _capacity_display(ctx, activity.capacity)),
        (t("activities.label_code"), activity.checkin_code),
        (t("activities.label_invited"), t("activities.invited_value", count=broadcast.recipients_count))),
        note=t("activities.created_note"), buttons=(_code_button(activity.id),))
    return fw.Turn(ctx.cleared().forget("activity_prefill"), [card])


ACTIVITY_FLOW = registry.register_flow(fw.Flow(
    id=fw.FlowId.ACTIVITY_CREATE,
    title=t("activities.flow_title"),
    help=t("activities.flow_help"),
    steps=(
        fw.Step("kind", t("activities.label_kind"), _ask_kind, _parse_kind,
                display=lambda ctx, v: _settings(ctx).kind_label(v)),
        fw.Step("title", t("activities.label_title"), _ask_title, _parse_title),
        fw.Step("starts", t("activities.label_starts"), _ask_starts, parse_future_datetime, display=_starts_display),
        fw.Step("minutes", t("activities.label_minutes"), _ask_minutes, _parse_minutes, display=_minutes_display),
        fw.Step("where", t("activities.label_where"), _ask_where, _parse_where, display=_where_display),
        fw.Step("capacity", t("activities.label_capacity"), _ask_capacity, _parse_capacity, display=_capacity_display),
        *AUDIENCE_STEPS,
    ),
    finish=_finish_create,
    prefill=_prefill,
    summary_title=t("activities.summary_title"),
))


@registry.command("activity_create", "/活動", "/新增活動", "/建立活動", role="staff")
def start_create(request) -> fw.Turn:
    ctx = request.ctx.remember(activity_prefill={"_options": broadcasts.audience_options(request.session)})
    return fw.Turn(ctx, [], start_flow=fw.FlowId.ACTIVITY_CREATE.value)


# --- staff: list, code, cancel --------------------------------------------------------------

def _code_button(activity_id: int) -> Choice:
    return Choice(t("activities.button_code"), data=encode_postback(c="act_code", arg=activity_id),
                  display=t("activities.button_code"))


@registry.command("activity_list", "/活動列表", "/活動紀錄", role="staff")
def list_activities(request) -> fw.Turn:
    session, ctx = request.session, request.ctx
    items = service.recent_activities(session, upcoming_from=ctx.now, limit=10)
    if not items:
        return fw.Turn(ctx, [Text(t("activities.list_none"))])
    counts = service.counts(session, activity_ids=[a.id for a in items])
    settings = _settings(ctx)
    lines = [t("activities.list_title")]
    for activity in items:
        state = t("activities.state_cancelled") if activity.status == "cancelled" else t(
            "activities.list_counts", seats=service.seats_text(activity, counts[activity.id].registered),
            checked=counts[activity.id].checked_in)
        lines.append(t("activities.list_line", id=activity.id, when=service.when_text(activity),
                       kind=settings.kind_label(activity.kind), title=activity.title, code=activity.checkin_code,
                       state=state))
    return fw.Turn(ctx, [Text("\n".join(lines))])


def _pick_activity(request) -> "service.Activity | None":
    """The activity a staff command means: its #id, else the one checking in now or next."""
    from activities.models import Activity

    activity_id = _id_of(request.argument)
    if activity_id is not None:
        return request.session.get(Activity, activity_id)
    upcoming = [a for a in service.recent_activities(request.session, upcoming_from=request.ctx.now, limit=5)
                if a.status == "open"]
    return upcoming[0] if upcoming else None


@registry.command("act_code", "/簽到碼", "/簽到", prefix=True, role="staff")
def show_code(request) -> fw.Turn:
    from activities.links import checkin_page_url, qr_image_url

    ctx = request.ctx
    activity = _pick_activity(request)
    if activity is None:
        return fw.Turn(ctx, [Text(t("activities.not_found"))])
    if activity.status == "cancelled":
        return fw.Turn(ctx, [Text(t("activities.is_cancelled", title=activity.title))])
    settings = _settings(ctx, activity.program_id)
    opens, closes = settings.checkin_window(activity.starts_at)
    config = _config(ctx)
    text = t("activities.code_text", title=activity.title, code=activity.checkin_code,
             word=t("activities.checkin_word"), opens=f"{to_taipei(opens):%H:%M}", closes=f"{to_taipei(closes):%H:%M}",
             page=checkin_page_url(config, activity))
    replies = [Text(text)]
    image = qr_image_url(config, activity)
    if image and image.startswith("https://"):  # LINE shows images from https only
        replies.append(Image(url=image))
    return fw.Turn(ctx, replies)


@registry.command("act_cancel", "/取消活動", prefix=True, role="staff")
def cancel(request) -> fw.Turn:
    from activities.models import Activity

    ctx = request.ctx
    activity_id = _id_of(request.argument)
    answer = (request.argument or "").partition(":")[2]
    activity = request.session.get(Activity, activity_id) if activity_id else None
    if activity is None:
        return fw.Turn(ctx, [Text(t("activities.cancel_which"))])
    if activity.status == "cancelled":
        return fw.Turn(ctx, [Text(t("activities.is_cancelled", title=activity.title))])
    if answer == "no":
        return fw.Turn(ctx, [Text(t("activities.cancel_kept"))])
    if answer != "yes":
        return fw.Turn(ctx, [Text(t("activities.cancel_confirm", title=activity.title,
                                    when=service.when_text(activity)), (
            Choice(t("activities.cancel_yes"), data=encode_postback(c="act_cancel", arg=f"{activity.id}:yes"),
                   display=t("activities.cancel_yes")),
            Choice(t("activities.cancel_no"), data=encode_postback(c="act_cancel", arg=f"{activity.id}:no"),
                   display=t("activities.cancel_no"))))])
    registered = service.cancel_activity(request.session, activity_id=activity.id, actor=ctx.user_id, now=ctx.now)
    notify_cancelled(request.session, activity=activity, people=registered)
    return fw.Turn(ctx, [Text(t("activities.cancelled_done", title=activity.title, count=len(registered)))])


def notify_cancelled(session, *, activity, people: list[str]) -> None:
    """Tell everyone registered, once (the outbox key), in the caller's transaction."""
    from bot.outbox import enqueue_multicast

    if people:
        enqueue_multicast(session, to=people, replies=[Text(t("activities.cancelled_notice", title=activity.title,
                                                              when=service.when_text(activity)))],
                          idempotency_key=f"activity-cancelled:{activity.id}", origin=f"activity:{activity.id}")


# --- invited people: 報名 / 不克參加 / 我的活動 ------------------------------------------------

def _closed_reply(outcome, activity) -> Text | None:
    if outcome.code == "not_found":
        return Text(t("activities.not_found"))
    if outcome.code == "cancelled":
        return Text(t("activities.is_cancelled", title=activity.title))
    if outcome.code == "ended":
        return Text(t("activities.is_over", title=activity.title))
    return None


def _name_turn(request, ctx, lead: list, activity_id: int) -> fw.Turn:
    """Ask for the sign-in sheet's name once (then it is reused for every later activity)."""
    from bot.services import find_user

    user = find_user(request.session, ctx.user_id)
    if ctx.flow:
        ctx = ctx.set_aside()  # a button tapped mid-form: that form waits (「繼續」), nothing is lost
    ctx = ctx.remember(activity_name={"_activity": activity_id,
                                      "_suggest": (user.display_name or "")[:20] if user else ""})
    return fw.Turn(ctx, lead, start_flow=fw.FlowId.ACTIVITY_NAME.value)


@registry.command("act_join", "報名活動")
def join(request) -> fw.Turn:
    from scheduler.settings import default_schedule

    ctx, session = request.ctx, request.session
    activity_id = _id_of(request.argument)
    if activity_id is None:
        return my_activities(request)
    outcome = service.register(session, activity_id=activity_id, line_user_id=ctx.user_id, now=ctx.now)
    activity = outcome.activity
    closed = _closed_reply(outcome, activity)
    if closed:
        return fw.Turn(ctx, [closed])
    if outcome.code == "full":
        return fw.Turn(ctx, [Text(t("activities.full", title=activity.title, capacity=activity.capacity))])
    if outcome.code == "already":
        return fw.Turn(ctx, [Text(t("activities.already_registered", title=activity.title,
                                    when=service.when_text(activity)), (service.decline_button(activity.id),))])
    settings = _settings(ctx, activity.program_id)
    service.plan_reminders(session, activity=activity, registration=outcome.registration, settings=settings,
                           schedule=default_schedule(_config(ctx), activity.program_id), now=ctx.now)
    card = Card(title=t("activities.joined_title"), rows=(
        (t("activities.label_title"), activity.title), (t("activities.label_when"), service.when_text(activity)),
        (t("activities.label_where"), service.where_text(activity))),
        note=t("activities.joined_note", word=t("activities.checkin_word"), hours=f"{settings.hours_before:g}"),
        buttons=(service.decline_button(activity.id),))
    if outcome.registration.company_id is None:
        card = Card(title=card.title, rows=card.rows, note=card.note + "\n" + t("activities.no_company_note"),
                    buttons=card.buttons)
    if outcome.registration.attendee_name is None:
        return _name_turn(request, ctx, [card], activity.id)
    return fw.Turn(ctx, [card])


# Owners cancel in their own words (「取消報名」「我不去了」), which the FAQ read as quitting the
# programme or sent to staff as a ticket: typed, they get their registrations to tap one off.
@registry.command("act_decline", "不克參加", "取消報名", "我要取消報名", "報名取消", "不去了", "我不去了", "不能去了",
                  "我不能去了", "沒辦法去", "沒辦法參加", "不參加了", "我不參加了", "不克前往")
def decline(request) -> fw.Turn:
    ctx = request.ctx
    activity_id = _id_of(request.argument)
    if activity_id is None:
        return my_activities(request, lead=t("activities.mine_pick_decline"))
    outcome = service.decline(request.session, activity_id=activity_id, line_user_id=ctx.user_id, now=ctx.now)
    activity = outcome.activity
    closed = _closed_reply(outcome, activity)
    if closed:
        return fw.Turn(ctx, [closed])
    if outcome.code == "checked_in":
        return fw.Turn(ctx, [Text(t("activities.decline_after_checkin", title=activity.title))])
    if outcome.code == "already":
        return fw.Turn(ctx, [Text(t("activities.already_declined", title=activity.title),
                                  (service.join_button(activity.id),))])
    return fw.Turn(ctx, [Text(t("activities.declined", title=activity.title), (service.join_button(activity.id),))])


@registry.command("my_activities", "我的活動", "活動報名", "我報名的活動")
def my_activities(request, lead: str | None = None) -> fw.Turn:
    ctx = request.ctx
    items = service.registrations_of(request.session, line_user_id=ctx.user_id, now=ctx.now)
    if not items:
        return fw.Turn(ctx, [Text(t("activities.mine_none"))], show_menu=True)
    lines = [t("activities.mine_title")]
    lines += [t("activities.mine_line", when=service.when_text(a), title=a.title, where=service.where_text(a))
              for a, _ in items]
    lines += [lead] if lead else []
    buttons = tuple(Choice(t("activities.button_decline_of", title=a.title[:10]),
                           data=encode_postback(c="act_decline", arg=a.id), display=t("activities.button_decline"))
                    for a, _ in items[:12])
    return fw.Turn(ctx, [Text("\n".join(lines), buttons)])


# --- the attendee's name for the sign-in sheet ----------------------------------------------------

def _ask_name(ctx):
    suggest = ctx.data.get("_suggest")
    choices = (ctx.choice(suggest, suggest),) if suggest else ()
    return [Text(t("activities.ask_name"), (*choices, ctx.choice(t("activities.name_skip"), "-"),
                                            Choice(t("core.nav_cancel"))))]


def _parse_name(ctx, user_input) -> str:
    name = " ".join(user_input.answer_text.split())
    if name in ("-", t("activities.name_skip")):
        return ""
    # A name has no digits: 「簽到 1234」 sent again while the name is asked is the check-in command
    # (the dispatcher runs it once this refuses), not a name for the sign-in sheet.
    if not 1 <= len(name) <= 30 or URL.search(name) or any(ch.isdigit() for ch in name):
        raise fw.Invalid(t("activities.name_invalid"))
    refusal = words_refusal(name, t("activities.name_invalid"))  # 「謝謝」 would go onto the sign-in sheet
    if refusal:
        raise fw.Invalid(refusal)
    return name


def _finish_name(request) -> fw.Turn:
    ctx = request.ctx
    name = ctx.data.get("name") or ""
    cleared = ctx.cleared().forget("activity_name")
    if not name:
        return fw.Turn(cleared, [Text(t("activities.name_skipped"))])
    service.set_attendee_name(request.session, activity_id=int(ctx.data["_activity"]), line_user_id=ctx.user_id,
                              name=name)
    return fw.Turn(cleared, [Text(t("activities.name_saved", name=name))])


NAME_FLOW = registry.register_flow(fw.Flow(
    id=fw.FlowId.ACTIVITY_NAME,
    title=t("activities.name_flow_title"),
    help=t("activities.name_flow_help"),
    steps=(fw.Step("name", t("activities.label_name"), _ask_name, _parse_name),),
    finish=_finish_name,
    summary=False,
    requires_consent=True,
    prefill=lambda ctx: {"_activity": 0, **dict(ctx.memory.get("activity_name") or {})},
))


# --- at the venue: 「簽到 1234」 ------------------------------------------------------------------

def _recent_misses(ctx) -> list[str]:
    cutoff = ctx.now.timestamp() - WRONG_CODE_WINDOW_MINUTES * 60
    return [m for m in ctx.memory.get("checkin_misses") or [] if float(m) >= cutoff]


@registry.command("checkin", "簽到", "報到", "我要簽到", "我要報到", prefix=True)
def check_in(request) -> fw.Turn:
    ctx = request.ctx
    text = unicodedata.normalize("NFKC", request.argument or "")
    code = "".join(re.findall(r"\d", text))
    if not code:
        if fw.has_question_marker(text):
            return fw.Turn(ctx, [], faq=request.input.text)  # 「簽到表要寫什麼？」 is a question
        return fw.Turn(ctx, [Text(t("activities.checkin_how", word=t("activities.checkin_word")))])
    misses = _recent_misses(ctx)
    if len(misses) >= WRONG_CODE_LIMIT:
        return fw.Turn(ctx, [Text(t("activities.checkin_locked", minutes=WRONG_CODE_WINDOW_MINUTES))])
    outcome = service.check_in(request.session, code=code, line_user_id=ctx.user_id,
                               settings_of=settings_of(_config(ctx)), now=ctx.now)
    activity = outcome.activity
    if outcome.code == "wrong_code":
        ctx = ctx.remember(checkin_misses=[*misses, str(ctx.now.timestamp())])
        return fw.Turn(ctx, [Text(t("activities.checkin_wrong", code=code[:8]))])
    if outcome.code in ("checked_in", "walk_in"):
        return _checked_in(request, ctx.forget("checkin_misses"), outcome)
    settings = _settings(ctx, activity.program_id) if activity else None
    opens, closes = settings.checkin_window(activity.starts_at) if activity else (None, None)
    values = {"title": activity.title if activity else "", "when": service.when_text(activity) if activity else ""}
    if outcome.code == "already":
        row = outcome.registration
        text = t("activities.checkin_already", title=activity.title, at=f"{to_taipei(row.checked_in_at):%H:%M}")
    elif outcome.code == "not_open_yet":
        text = t("activities.checkin_not_open", opens=format_roc_datetime(opens), **values)
    elif outcome.code == "late":
        text = t("activities.checkin_late", closes=f"{to_taipei(closes):%H:%M}", **values)
    elif outcome.code == "expired":
        text = t("activities.checkin_expired", **values)
    elif outcome.code == "cancelled":
        text = t("activities.is_cancelled", title=activity.title)
    elif outcome.code == "full":
        text = t("activities.checkin_full", title=activity.title)
    else:  # not_registered (walk-ins not accepted for this programme)
        text = t("activities.checkin_not_registered", title=activity.title)
    return fw.Turn(ctx, [Text(text)])


@registry.intercept_free_text
def bare_code(request) -> fw.Turn | None:
    """A bare 「1234」 is a check-in while some activity's check-in window is open (people at the
    venue type the code alone); it then counts toward the wrong-code limit like 「簽到 1234」, so it
    is no way around it. At any other time a number stays free text."""
    if request.input.kind != "text":
        return None
    text = unicodedata.normalize("NFKC", request.input.text or "").strip()
    if not re.fullmatch(rf"\d{{{service.CODE_DIGITS}}}", text):
        return None
    if not service.checkin_open_now(request.session, now=request.ctx.now, settings_of=settings_of(_config(request.ctx))):
        return None
    request.argument = text
    return check_in(request)


def _checked_in(request, ctx, outcome) -> fw.Turn:
    from companies.models import Company

    activity, row = outcome.activity, outcome.registration
    company = request.session.get(Company, row.company_id) if row.company_id else None
    rows = [(t("activities.label_title"), activity.title),
            (t("activities.label_checked_in_at"), format_roc_datetime(row.checked_in_at)),
            (t("activities.label_company"), (company.name or company.tax_id) if company else t("activities.no_company"))]
    notes = []
    if outcome.code == "walk_in":
        notes.append(t("activities.walk_in_note"))
    if company is None:
        notes.append(t("activities.no_company_note"))
    card = Card(title=t("activities.checked_in_title"), rows=tuple(rows), note="\n".join(notes))
    if row.attendee_name is None:
        return _name_turn(request, ctx, [card], activity.id)
    return fw.Turn(ctx, [card])
