"""Baseline behaviour every registered conversation inherits (after Zulip's test_lib): it has help
text, answers stickers/images/empty input with a nudge and the question again, treats a stale
button as expired, and supports 上一步 / 取消 / 選單 / 說明. Runs the pure steps directly."""
from datetime import datetime, timedelta, timezone

import pytest

from bot.messages import Card, Text
from dialogs import framework as fw
from dialogs import registry

registry.load_all()
FLOW_IDS = sorted(registry.FLOWS)


def _texts(replies) -> str:
    parts = []
    for reply in replies:
        if isinstance(reply, Text):
            parts.append(reply.text)
        elif isinstance(reply, Card):
            parts.append(reply.title + reply.body)
    return "\n".join(parts)


@pytest.fixture
def ctx(app):
    return fw.Context(user_id="U" + "z" * 32, now=datetime.now(timezone.utc), consented=True,
                      roles=frozenset({"staff", "advisor"}), services=app.extensions["bot"].services)


def _asking(flow_id, ctx):
    """The flow started and waiting on a question (the test is skipped when it finished at once)."""
    flow = registry.FLOWS[flow_id]
    turn = fw.start(flow, ctx)
    if turn.finish or turn.ctx.step is None:
        pytest.skip("flow finished at once in this context")
    return flow, turn


@pytest.mark.parametrize("flow_id", FLOW_IDS)
def test_flow_has_title_help_and_steps(flow_id):
    flow = registry.FLOWS[flow_id]
    assert flow.title and flow.help
    assert flow.steps, "a conversation asks at least one question"
    assert all(step.label for step in flow.steps)


@pytest.mark.parametrize("flow_id", FLOW_IDS)
def test_start_asks_something(flow_id, ctx):
    turn = fw.start(registry.FLOWS[flow_id], ctx)
    assert turn.replies or turn.finish


@pytest.mark.parametrize("flow_id", FLOW_IDS)
@pytest.mark.parametrize("kind", ["sticker", "video", "audio", "file", "location"])
def test_sticker_or_media_gets_a_nudge_and_the_question_again(flow_id, kind, ctx):
    flow, turn = _asking(flow_id, ctx)
    step = flow.step(turn.ctx.step)
    if step is not None and kind in step.accepts:
        pytest.skip(f"step accepts {kind}")
    again = fw.advance(flow, turn.ctx, fw.UserInput(kind=kind, message_id="1"))
    assert again.ctx.step == turn.ctx.step and again.ctx.data == turn.ctx.data
    assert len(again.replies) >= 2
    assert not again.finish


@pytest.mark.parametrize("flow_id", FLOW_IDS)
def test_empty_text_is_answered(flow_id, ctx):
    flow, turn = _asking(flow_id, ctx)
    again = fw.advance(flow, turn.ctx, fw.UserInput.text_input("   "))
    assert again.replies and again.ctx.step == turn.ctx.step


@pytest.mark.parametrize("flow_id", FLOW_IDS)
def test_stale_button_is_expired_and_question_repeated(flow_id, ctx):
    flow, turn = _asking(flow_id, ctx)
    stale = fw.UserInput.postback(f"f={flow_id.value}&s=deadbeef&st={turn.ctx.step}&v=1")
    again = fw.advance(flow, turn.ctx, stale)
    assert "過期" in _texts(again.replies)
    assert again.ctx.data == turn.ctx.data and not again.finish


@pytest.mark.parametrize("flow_id", FLOW_IDS)
def test_navigation_words(flow_id, ctx):
    flow, turn = _asking(flow_id, ctx)
    back = fw.advance(flow, turn.ctx, fw.UserInput.text_input("上一步"))
    assert back.replies and back.ctx.flow == flow_id.value
    helped = fw.advance(flow, turn.ctx, fw.UserInput.text_input("說明"))
    assert flow.help in _texts(helped.replies)
    cancelled = fw.advance(flow, turn.ctx, fw.UserInput.text_input("取消"))
    assert cancelled.ctx.flow is None and cancelled.show_menu
    menu = fw.advance(flow, turn.ctx, fw.UserInput.text_input("選單"))
    assert menu.ctx.flow is None and menu.ctx.memory["paused"]["flow"] == flow_id.value


def test_resume_is_offered_after_a_long_pause(ctx):
    flow = registry.FLOWS[fw.FlowId.DEMO]
    turn = fw.start(flow, ctx)
    later = turn.ctx.evolve(updated_at=ctx.now, now=ctx.now + timedelta(days=1))
    assert fw.needs_resume_offer(later)
    offer = fw.resume_offer(flow, later)
    assert "繼續" in _texts(offer.replies)
    resumed = fw.handle_resume_answer(flow, offer.ctx, fw.UserInput.text_input("繼續"))
    assert resumed.ctx.step == turn.ctx.step


def test_demo_summary_edit_changes_one_answer_only(ctx):
    flow = registry.FLOWS[fw.FlowId.DEMO]
    turn = fw.start(flow, ctx)
    turn = fw.advance(flow, turn.ctx, fw.UserInput.text_input("LINE官方帳號"))
    turn = fw.advance(flow, turn.ctx, fw.UserInput.text_input("12"))
    assert turn.ctx.step == fw.SUMMARY_STEP
    turn = fw.advance(flow, turn.ctx, fw.UserInput.text_input("修改每週線上訂單"))
    assert turn.ctx.step == "weekly_orders" and turn.ctx.data["channel"] == "line"
    turn = fw.advance(flow, turn.ctx, fw.UserInput.text_input("30"))
    assert turn.ctx.step == fw.SUMMARY_STEP and turn.ctx.data == {"channel": "line", "weekly_orders": 30}


def test_back_forgets_the_previous_answer(ctx):
    flow = registry.FLOWS[fw.FlowId.DEMO]
    turn = fw.start(flow, ctx)
    turn = fw.advance(flow, turn.ctx, fw.UserInput.text_input("LINE官方帳號"))
    turn = fw.advance(flow, turn.ctx, fw.UserInput.text_input("上一步"))
    assert turn.ctx.step == "channel" and "channel" not in turn.ctx.data


def test_question_mid_flow_is_handed_to_the_faq(ctx):
    flow = registry.FLOWS[fw.FlowId.DEMO]
    turn = fw.start(flow, ctx)
    turn = fw.advance(flow, turn.ctx, fw.UserInput.text_input("請問意向書什麼時候要交？"))
    assert turn.faq == "請問意向書什麼時候要交？" and turn.ctx.step == "channel"


def test_question_on_the_summary_is_handed_to_the_faq_and_the_summary_stays(ctx):
    flow = registry.FLOWS[fw.FlowId.DEMO]
    turn = fw.start(flow, ctx)
    turn = fw.advance(flow, turn.ctx, fw.UserInput.text_input("LINE官方帳號"))
    turn = fw.advance(flow, turn.ctx, fw.UserInput.text_input("12"))
    asked = fw.advance(flow, turn.ctx, fw.UserInput.text_input("請問補助款什麼時候撥？"))
    assert asked.faq == "請問補助款什麼時候撥？" and asked.ctx.step == fw.SUMMARY_STEP
    assert asked.ctx.data == turn.ctx.data and not asked.finish
