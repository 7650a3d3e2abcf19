"""A tiny demo conversation (「數位小測驗」) that exercises the framework end to end: quick
replies, free-text numbers, a step asked only when it matters, the summary, editing, finish."""
from __future__ import annotations

from bot.messages import Text
from dialogs import framework as fw
from dialogs.registry import command, register_flow

CHANNELS = {"line": "LINE官方帳號", "web": "官網或網路商店", "none": "還沒有"}


def _ask_channel(ctx):
    return [Text("目前客人主要從哪裡找到您？", tuple(ctx.choice(label, key) for key, label in CHANNELS.items()))]


def _parse_channel(ctx, user_input):
    answer = user_input.answer_text.strip()
    for key, label in CHANNELS.items():
        if answer in (key, label) or (answer and answer in label):
            return key
    if "沒" in answer:
        return "none"
    raise fw.Invalid("請點選下方的選項喔。")


def _ask_weekly_orders(ctx):
    return [Text("每週大約有幾筆線上訂單？（直接打數字就可以，例如「20」）")]


def _parse_weekly_orders(ctx, user_input):
    text = user_input.answer_text.strip().rstrip("筆單張個")
    if text.isdigit() and 0 <= int(text) <= 100000:
        return int(text)
    raise fw.Invalid("請輸入 0 以上的數字，例如「20」。")


def _finish(request) -> fw.Turn:
    ctx = request.ctx
    if ctx.data.get("channel") == "none":
        tip = "建議先從 LINE 官方帳號開始，讓老客人找得到您 🙂"
    elif ctx.data.get("weekly_orders", 0) >= 20:
        tip = "線上訂單不少！可以考慮導入雲端 POS 或訂單管理工具。"
    else:
        tip = "可以試試在 LINE 官方帳號放上菜單或商品目錄，讓下單更方便。"
    return fw.Turn(ctx.cleared(), [Text(f"小測驗完成 🎉\n{tip}")], show_menu=True)


DEMO = register_flow(fw.Flow(
    id=fw.FlowId.DEMO,
    title="數位小測驗",
    help="三十秒的小測驗，看看店裡適合從哪個數位工具開始。",
    steps=(
        fw.Step("channel", "客人來源", _ask_channel, _parse_channel,
                display=lambda ctx, v: CHANNELS.get(v, "—")),
        fw.Step("weekly_orders", "每週線上訂單", _ask_weekly_orders, _parse_weekly_orders,
                when=lambda ctx: ctx.data.get("channel") != "none", display=lambda ctx, v: f"{v} 筆"),
    ),
    finish=_finish,
))


@command("demo", "數位小測驗", "小測驗", "demo")
def start_demo(request) -> fw.Turn:
    return fw.Turn(request.ctx, [], start_flow=fw.FlowId.DEMO.value)
