"""The one outbound gateway: reply/push fallback, LINE limits by construction, retries with a
retry key, dead letters, loading animation — all through the real SDK to the fake API."""
import time

import pytest
from sqlmodel import select

from bot.devmode.fake_line import Fault
from bot.messages import Choice, Text, batches, to_line_messages
from bot.models import OutboundMessage
from bot.outbox import enqueue_push, enqueue_reply
from dialogs import framework as fw
from dialogs.registry import command


# --- limits by construction -----------------------------------------------------------------

def test_long_text_is_split_below_5000_characters():
    messages = to_line_messages([Text("段落。" * 4000)])
    assert len(messages) == 3
    assert all(len(m["text"]) <= 5000 for m in messages)


def test_quick_replies_over_13_are_refused_at_construction():
    with pytest.raises(ValueError):
        Text("?", tuple(Choice(str(i)) for i in range(14)))


def test_labels_are_shortened_to_20_characters():
    action = Choice("這是一個非常非常非常非常非常長的選項標籤文字").action()
    assert len(action["label"]) <= 20


def test_postback_data_over_300_characters_is_refused():
    with pytest.raises(ValueError):
        Choice("x", data="a" * 301)


def test_messages_are_batched_by_five():
    assert [len(b) for b in batches([{"type": "text", "text": str(i)} for i in range(12)])] == [5, 5, 2]


@command("test_many_messages", "測試七則訊息")
def _seven_messages(request):
    return fw.Turn(request.ctx, [Text(f"第{i}則") for i in range(1, 8)])


def test_more_than_five_replies_go_as_reply_then_push(chat, fake_line):
    texts = chat.say("測試七則訊息")
    assert texts == [f"第{i}則" for i in range(1, 8)]
    vias = [m["_via"] for m in fake_line.messages_for(chat.user_id)]
    assert vias == ["reply"] * 5 + ["push"] * 2


# --- reply token fallbacks ------------------------------------------------------------------

def test_used_reply_token_falls_back_to_push(chat, fake_line):
    event = chat.event("text", text="選單")
    fake_line.reply_tokens[event["replyToken"]]["used"] = True  # e.g. consumed elsewhere
    assert chat.post([event]).status_code == 200
    chat.runtime.worker.wait_idle(10)
    messages = fake_line.messages_for(chat.user_id)
    assert len(messages) == 1 and messages[0]["_via"] == "push"


def test_expired_reply_token_is_not_used(chat, fake_line, app):
    event = chat.event("text", text="選單")
    runtime = app.extensions["bot"]
    # The event waited in our queue longer than a reply token lives: push directly.
    from bot import outbox

    original = outbox.REPLY_TOKEN_TTL
    outbox.REPLY_TOKEN_TTL = type(original)(seconds=0)
    try:
        chat.post([event])
        runtime.worker.wait_idle(10)
    finally:
        outbox.REPLY_TOKEN_TTL = original
    assert fake_line.calls.get("reply", 0) == 0
    assert [m["_via"] for m in fake_line.messages_for(chat.user_id)] == ["push"]


def test_reply_whose_answer_was_lost_is_not_sent_twice(chat, fake_line, app):
    fake_line.faults.append(Fault("reply", mode="accept_then_drop"))
    chat.post([chat.event("text", text="選單")])
    app.extensions["bot"].worker.wait_idle(10)
    _pump_until_settled(app)
    assert len(fake_line.messages_for(chat.user_id)) == 1


# --- retries --------------------------------------------------------------------------------

def _push(app, user: str, key: str) -> None:
    runtime = app.extensions["bot"]
    with runtime.database.write_session() as session:
        enqueue_push(session, to=user, replies=[Text("提醒您：明天有顧問訪視")], idempotency_key=key)


def _pump_until_settled(app, seconds: float = 8.0) -> None:
    runtime = app.extensions["bot"]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runtime.sender.deliver_due()
        with runtime.database.session() as session:
            open_rows = session.exec(select(OutboundMessage).where(
                OutboundMessage.status.in_(("pending", "sending")))).all()
        if not open_rows:
            return
        time.sleep(0.05)


@pytest.mark.parametrize("fault", [
    Fault("push", status=500, times=3),
    Fault("push", status=429, times=2),
    Fault("push", mode="timeout", delay=2.5, times=1),
    Fault("push", mode="drop", times=2),
    Fault("push", mode="accept_then_drop", times=1),
])
def test_push_survives_faults_exactly_once_with_one_retry_key(app, fake_line, fault):
    user = "U" + "p" * 32
    fake_line.faults.append(fault)
    _push(app, user, f"fault-{fault.mode}-{fault.status}")
    _pump_until_settled(app)
    records = [r for r in fake_line.records if user in r["to"]]
    assert len(records) == 1
    assert fake_line.calls["push"] >= 2
    with app.extensions["bot"].database.session() as session:
        row = session.exec(select(OutboundMessage)).one()
    assert row.status == "sent" and records[0]["retry_key"] == row.retry_key


def test_repeated_idempotency_key_queues_once(app, fake_line):
    user = "U" + "i" * 32
    _push(app, user, "same-key")
    _push(app, user, "same-key")
    _pump_until_settled(app)
    assert len(fake_line.messages_for(user)) == 1


def test_permanent_error_goes_to_dead_letter(app, fake_line):
    fake_line.faults.append(Fault("push", status=400, times=1))
    _push(app, "U" + "d" * 32, "dead")
    _pump_until_settled(app)
    with app.extensions["bot"].database.session() as session:
        row = session.exec(select(OutboundMessage)).one()
    assert row.status == "dead" and "400" in row.last_error


def test_messages_to_one_user_keep_their_order_through_retries(app, fake_line):
    user = "U" + "o" * 32
    fake_line.faults.append(Fault("push", status=500, times=2))
    for index in range(3):
        runtime = app.extensions["bot"]
        with runtime.database.write_session() as session:
            enqueue_push(session, to=user, replies=[Text(f"第{index}則")], idempotency_key=f"order-{index}")
    _pump_until_settled(app)
    assert fake_line.texts_for(user) == ["第0則", "第1則", "第2則"]


def test_a_failed_send_holds_back_only_that_persons_later_messages(app, fake_line):
    # A batch of events answers several people at once (OutboxSender.send_claimed). One
    # person's failure must keep *their* order (their later rows wait for the pump) without
    # holding back anyone else's answer, which used to wait for the pump too.
    runtime = app.extensions["bot"]
    people = {"U" + "a" * 32: 7, "U" + "b" * 32: 1, "U" + "c" * 32: 1, "U" + "e" * 32: 2}  # 7 = two pushes
    rows = []
    with runtime.database.write_session() as session:
        for user, count in people.items():
            rows += enqueue_reply(session, user_id=user, reply_token=None, received_at=None,
                                  replies=[Text(f"{user[1]}{index}") for index in range(count)],
                                  idempotency_key=f"batch-{user}", claimed=True)
    fake_line.faults.append(Fault("push", status=500, times=1))
    runtime.sender.send_claimed(rows)
    answered = {user for user, count in people.items() if len(fake_line.texts_for(user)) == count}
    assert len(answered) == len(people) - 1  # everyone but the one whose first push failed
    _pump_until_settled(app)
    for user, count in people.items():
        assert fake_line.texts_for(user) == [f"{user[1]}{index}" for index in range(count)]  # all, in order


def test_unfollowed_user_gets_no_push(chat, fake_line, app):
    chat.follow()
    chat.unfollow()
    before = len(fake_line.messages_for(chat.user_id))
    _push(app, chat.user_id, "after-unfollow")
    _pump_until_settled(app)
    assert len(fake_line.messages_for(chat.user_id)) == before


@command("test_slow", "測試慢慢來")
def _slow(request):
    time.sleep(1.2)
    return fw.Turn(request.ctx, [Text("好了")])


def test_slow_work_shows_the_loading_animation(chat, fake_line):
    assert chat.say("測試慢慢來") == ["好了"]
    assert any(entry.get("chatId") == chat.user_id for entry in fake_line.loading)


def test_fast_work_shows_no_loading_animation(chat, fake_line):
    chat.say("選單")
    assert fake_line.loading == []
