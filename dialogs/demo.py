"""A tiny demo conversation (「數位小測驗」) that exercises the framework end to end: quick
replies, free-text numbers, a step asked only when it matters, the summary, editing, finish.
Copy: bot/texts/demo.yaml."""
from __future__ import annotations

from bot.messages import Text
from bot.texts import t
from dialogs import framework as fw
from dialogs.registry import command, register_flow

CHANNELS = ("line", "web", "none")
NO_WORDS = ("沒", "無")  # 「沒有」「還沒」「無」: no online channel yet


def _channel_label(key: str) -> str:
    return t(f"demo.channel_{key}")


def _ask_channel(ctx):
    return [Text(t("demo.ask_channel"), tuple(ctx.choice(_channel_label(key), key) for key in CHANNELS))]


def _parse_channel(ctx, user_input):
    answer = user_input.answer_text.strip()
    for key in CHANNELS:
        label = _channel_label(key)
        if answer in (key, label) or (answer and answer in label):
            return key
    if any(word in answer for word in NO_WORDS):
        return "none"
    raise fw.Invalid(t("demo.pick_an_option"))


def _ask_weekly_orders(ctx):
    return [Text(t("demo.ask_weekly_orders"))]


def _parse_weekly_orders(ctx, user_input):
    from dialogs.parsing import parse_count

    count = parse_count(user_input.answer_text)
    if count is not None and 0 <= count <= 100000:
        return count
    raise fw.Invalid(t("demo.bad_number"))


def _finish(request) -> fw.Turn:
    ctx = request.ctx
    if ctx.data.get("channel") == "none":
        tip = t("demo.tip_no_channel")
    elif ctx.data.get("weekly_orders", 0) >= 20:
        tip = t("demo.tip_busy")
    else:
        tip = t("demo.tip_default")
    return fw.Turn(ctx.cleared(), [Text(t("demo.done", tip=tip))], show_menu=True)


DEMO = register_flow(fw.Flow(
    id=fw.FlowId.DEMO,
    title=t("demo.title"),
    help=t("demo.help"),
    steps=(
        fw.Step("channel", t("demo.label_channel"), _ask_channel, _parse_channel,
                display=lambda ctx, v: _channel_label(v) if v in CHANNELS else "—"),
        fw.Step("weekly_orders", t("demo.label_weekly_orders"), _ask_weekly_orders, _parse_weekly_orders,
                when=lambda ctx: ctx.data.get("channel") != "none",
                display=lambda ctx, v: t("demo.orders_value", count=v)),
    ),
    finish=_finish,
))


@command("demo", "數位小測驗", "小測驗", "demo")
def start_demo(request) -> fw.Turn:
    return fw.Turn(request.ctx, [], start_flow=fw.FlowId.DEMO.value)
