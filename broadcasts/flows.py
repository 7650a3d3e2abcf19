"""「/公告」: staff compose an announcement in chat (FlowId.BROADCAST), see the count and a
preview exactly as recipients will see it, confirm, and get a delivery report."""
from __future__ import annotations

import re
from datetime import datetime

from bot.messages import Card, Choice, Text
from bot.texts import t
from bot.timeutil import TAIPEI, to_taipei
from broadcasts import cards, scheduled, service
from dialogs import framework as fw
from dialogs import registry
from dialogs.parsing import parse_date, parse_time
from scheduler.settings import QuietHours

URL = re.compile(r"https?://\S+", re.IGNORECASE)


def _ask_text(ctx):
    return [Text(t("broadcasts.ask_text"))]


def _parse_text(ctx, user_input):
    text = user_input.text.strip() if user_input.kind == "text" else ""
    problems = service.validate(text=text, image_url=None, link_url=None)
    if problems:
        raise fw.Invalid(problems[0], looks_like_question=False)
    return text


def _ask_attachment(ctx):
    return [Text(t("broadcasts.ask_attachment"), (ctx.choice(t("broadcasts.attachment_none"), "none"),
                                                 Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


def _parse_attachment(ctx, user_input) -> dict:
    answer = user_input.answer_text.strip()
    if answer in ("none", t("broadcasts.attachment_none"), "沒有", "不要", "略過"):
        return {}
    found = URL.findall(answer)
    if not found:
        # Not the question again: say what this one wants and how to change the text typed before.
        raise fw.Invalid(t("broadcasts.attachment_invalid"), looks_like_question=False)
    result: dict = {}
    for url in found[:2]:
        is_image = url.lower().split("?")[0].endswith(service.IMAGE_EXTENSIONS)
        result["image_url" if is_image and "image_url" not in result else "link_url"] = url
    problems = service.validate(text="x", image_url=result.get("image_url"), link_url=result.get("link_url"))
    if problems:
        raise fw.Invalid(problems[0], looks_like_question=False)
    return result


def _attachment_display(ctx, value) -> str:
    value = value or {}
    return " ".join(filter(None, (value.get("image_url"), value.get("link_url")))) or "—"


def _ask_audience(ctx):
    return [Text(t("broadcasts.ask_audience"), (
        *(ctx.choice(t(f"broadcasts.aud_{kind}"), kind) for kind in service.AUDIENCE_KINDS),
        Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


def _parse_audience(ctx, user_input) -> str:
    answer = user_input.answer_text.strip()
    for kind in service.AUDIENCE_KINDS:
        if answer in (kind, t(f"broadcasts.aud_{kind}")):
            return kind
    raise fw.Invalid(t("broadcasts.option_invalid"))


def _options(ctx) -> list[list[str]]:
    return (ctx.data.get("_options") or {}).get(ctx.data.get("audience"), [])


def _ask_value(ctx):
    kind_label = t(f"broadcasts.aud_{ctx.data.get('audience')}")
    options = _options(ctx)
    if not options:
        return [Text(t("broadcasts.no_options", kind=kind_label), (Choice(t("core.nav_back")),
                                                                   Choice(t("core.nav_cancel"))))]
    return [Text(t("broadcasts.ask_audience_value", kind=kind_label),
                 (*(ctx.choice(label[:20], value) for value, label in options[:11]),
                  Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


def _parse_value(ctx, user_input) -> str:
    answer = user_input.answer_text.strip()
    for value, label in _options(ctx):
        if answer in (value, label):
            return value
    raise fw.Invalid(t("broadcasts.option_invalid"))


def _value_display(ctx, value) -> str:
    return next((label for v, label in _options(ctx) if v == value), str(value))


# Choosing a segment: also the invitation step of 「/活動」 (activities.flows). The options come
# with the flow's prefill: ``{"_options": service.audience_options(session)}``.
AUDIENCE_STEPS = (
    fw.Step("audience", t("broadcasts.confirm_audience"), _ask_audience, _parse_audience,
            display=lambda ctx, v: t(f"broadcasts.aud_{v}")),
    fw.Step("audience_value", t("broadcasts.confirm_audience"), _ask_value, _parse_value,
            when=lambda ctx: ctx.data.get("audience") in service.NEEDS_VALUE, display=_value_display),
)


def _ask_timing(ctx):
    return [Text(t("broadcasts.ask_timing"), (ctx.choice(t("broadcasts.timing_now"), "now"),
                                             ctx.choice(t("broadcasts.timing_later"), "later"),
                                             Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


def _parse_timing(ctx, user_input) -> str:
    answer = user_input.answer_text.strip()
    if answer in ("now", t("broadcasts.timing_now"), "立即", "現在"):
        return "now"
    if answer in ("later", t("broadcasts.timing_later"), "排程"):
        return "later"
    raise fw.Invalid(t("broadcasts.option_invalid"))


def _ask_schedule(ctx):
    now = to_taipei(ctx.now)
    return [Text(t("broadcasts.ask_schedule"), (
        ctx.picker(t("broadcasts.schedule_pick"), "datetime", initial=now.strftime("%Y-%m-%dT%H:%M"),
                   min=now.strftime("%Y-%m-%dT%H:%M")),
        Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


def parse_future_datetime(ctx, user_input) -> str:
    """A moment after now, from the datetime picker or typed (「3/20 10:00」, 「112/3/20 下午2點」):
    ISO 8601 with its offset. Also the start of an activity (activities.flows)."""
    answer = user_input.answer_text.strip()
    try:
        moment = datetime.fromisoformat(answer)  # the datetime picker: 2023-03-20T10:00
        moment = moment.replace(tzinfo=TAIPEI) if moment.tzinfo is None else moment
    except ValueError:
        day = parse_date(answer, today=to_taipei(ctx.now).date())
        at = parse_time(re.sub(r"^\S*?\d{1,4}[/.\-年月]\d{1,2}([/.\-月]\d{1,2})?[日號]?", "", answer) or answer)
        if day is None or at is None:
            raise fw.Invalid(t("broadcasts.schedule_invalid"))
        moment = datetime.combine(day, at, tzinfo=TAIPEI)
    if moment <= ctx.now:
        raise fw.Invalid(t("broadcasts.schedule_past"))
    return moment.isoformat()


def _draft(ctx) -> dict:
    attachment = ctx.data.get("attachment") or {}
    return {"text": ctx.data.get("text", ""), "image_url": attachment.get("image_url"),
            "link_url": attachment.get("link_url")}


def _ask_confirm(ctx):
    kind, value = ctx.data.get("audience"), ctx.data.get("audience_value")
    count = 0
    if ctx.services is not None:
        # A read, in its own session: the count is what the dispatcher will resolve again on confirm.
        with ctx.services.database.session() as session:
            count = service.count_audience(session, kind=kind, value=value)
    lists = {v: label for v, label in (ctx.data.get("_options") or {}).get("list", [])}
    when = t("broadcasts.confirm_now")
    if ctx.data.get("timing") == "later" and ctx.data.get("schedule"):
        requested = datetime.fromisoformat(ctx.data["schedule"])
        when = service.when_text(service.outside_quiet_hours(requested, _quiet_hours(ctx)))
    card = Card(title=t("broadcasts.confirm_title"), rows=(
        (t("broadcasts.confirm_audience"), service.audience_label(kind, value, lists=lists)),
        (t("broadcasts.confirm_count"), t("broadcasts.confirm_count_value", count=count)),
        (t("broadcasts.confirm_when"), when)),
        note=t("broadcasts.confirm_note"),
        buttons=(ctx.choice(t("broadcasts.confirm_button"), "send"),),
        quick_replies=(ctx.choice(t("broadcasts.confirm_button"), "send"), Choice(t("core.nav_back")),
                       Choice(t("core.nav_cancel"))))
    return [Text(t("broadcasts.preview_intro")), *service.compose(**_draft(ctx)), card]


def _parse_confirm(ctx, user_input) -> bool:
    answer = user_input.answer_text.strip()
    if answer in ("send", t("broadcasts.confirm_button"), "確認", "確定", "發送"):
        return True
    raise fw.Invalid(t("broadcasts.confirm_invalid"), looks_like_question=False)


def _quiet_hours(ctx) -> QuietHours:
    return service.quiet_hours(ctx.services.config) if ctx.services is not None else QuietHours()


def _finish(request) -> fw.Turn:
    ctx = request.ctx
    draft = _draft(ctx)
    scheduled_for = datetime.fromisoformat(ctx.data["schedule"]) if ctx.data.get("timing") == "later" else None
    try:
        broadcast = service.create_broadcast(
            request.session, actor=ctx.user_id, source="chat", audience_kind=ctx.data["audience"],
            audience_value=ctx.data.get("audience_value"), scheduled_for=scheduled_for,
            quiet_hours=_quiet_hours(ctx), now=ctx.now, **draft)
    except service.BroadcastError as error:
        if error.code == "empty_audience":
            ctx = ctx.without_answer("confirm").without_answer("audience_value").without_answer("audience")
            return fw.current_question(BROADCAST_FLOW, ctx, [Text(t("broadcasts.empty_audience"))])
        raise
    cleared = ctx.cleared().forget("broadcast_prefill")
    if broadcast.status == "scheduled":
        text = t("broadcasts.scheduled", when=service.when_text(broadcast.send_at), count=broadcast.recipients_count)
        if broadcast.send_at != broadcast.requested_for:
            text += "\n" + t("broadcasts.scheduled_moved")
    else:
        text = t("broadcasts.queued", count=broadcast.recipients_count)
        scheduled.deliver_soon(request.services.get("outbox_sender"), broadcast_id=broadcast.id)
    return fw.Turn(cleared, [Card(title=t("broadcasts.flow_title"), body=text,
                                  buttons=cards.report_buttons(broadcast.id, scheduled=broadcast.status == "scheduled"))])


BROADCAST_FLOW = registry.register_flow(fw.Flow(
    id=fw.FlowId.BROADCAST,
    title=t("broadcasts.flow_title"),
    help=t("broadcasts.flow_help"),
    steps=(
        fw.Step("text", t("broadcasts.flow_title"), _ask_text, _parse_text),
        fw.Step("attachment", "附件", _ask_attachment, _parse_attachment, display=_attachment_display),
        *AUDIENCE_STEPS,
        fw.Step("timing", t("broadcasts.confirm_when"), _ask_timing, _parse_timing),
        fw.Step("schedule", t("broadcasts.confirm_when"), _ask_schedule, parse_future_datetime,
                when=lambda ctx: ctx.data.get("timing") == "later"),
        fw.Step("confirm", t("broadcasts.confirm_title"), _ask_confirm, _parse_confirm),
    ),
    finish=_finish,
    summary=False,
    prefill=lambda ctx: dict(ctx.memory.get("broadcast_prefill") or {}),
))


@registry.command("broadcast", "/公告", "/廣播", prefix=True, role="staff")
def start_broadcast(request) -> fw.Turn:
    prefill = {"_options": service.audience_options(request.session)}
    if request.argument.strip():
        prefill["text"] = request.argument.strip()[:5000]
    ctx = request.ctx.remember(broadcast_prefill=prefill)
    return fw.Turn(ctx, [], start_flow=fw.FlowId.BROADCAST.value)


# Prefix commands: 「/公告報告 3」 (help's example) and 「/公告紀錄 2」 matched 「/公告」 with 「報告 3」
# as an announcement's text to send; the longest prefix now wins for them too.
@registry.command("broadcast_report", "/公告報告", prefix=True, role="staff")
def show_report(request) -> fw.Turn:
    from broadcasts.models import Broadcast

    arg = (request.argument or "").strip().lstrip("#")
    if not arg.isdigit():
        latest = service.recent_broadcasts(request.session, limit=1)
        arg = str(latest[0].id) if latest else ""
    if not arg or request.session.get(Broadcast, int(arg)) is None:
        return fw.Turn(request.ctx, [Text(t("broadcasts.not_found"))])
    return fw.Turn(request.ctx, [cards.report_card(request.session, int(arg), now=request.ctx.now)])


# A prefix command: staff type 「/取消公告 #12」 with the id 「/公告紀錄」 shows.
@registry.command("broadcast_cancel", "/取消公告", prefix=True, role="staff")
def cancel(request) -> fw.Turn:
    arg = (request.argument or "").strip().lstrip("#")
    if not arg.isdigit():
        return fw.Turn(request.ctx, [Text(t("broadcasts.not_found"))])
    try:
        chunks = service.cancel_broadcast(request.session, broadcast_id=int(arg), actor=request.ctx.user_id)
    except service.BroadcastError:
        return fw.Turn(request.ctx, [Text(t("broadcasts.not_found"))])
    key = "broadcasts.cancelled" if chunks else "broadcasts.cancel_too_late"
    return fw.Turn(request.ctx, [Text(t(key, id=arg, chunks=chunks))])


@registry.command("broadcast_history", "/公告紀錄", "/公告列表", prefix=True, role="staff")
def history(request) -> fw.Turn:
    items = service.recent_broadcasts(request.session, limit=8)
    if not items:
        return fw.Turn(request.ctx, [Text(t("broadcasts.history_none"))])
    lines = [t("broadcasts.history_title")]
    for item in items:
        report = service.delivery_report(request.session, broadcast_id=item.id, now=request.ctx.now)
        lines.append(t("broadcasts.history_line", id=item.id, when=service.when_text(item.send_at),
                       audience=item.audience_label, count=item.recipients_count,
                       state=t(f"broadcasts.state_{report.state}")))
    return fw.Turn(request.ctx, [Text("\n".join(lines))])
