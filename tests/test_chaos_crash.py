"""Crash: a real bot process is SIGKILLed at random moments while it processes events (event →
reply path) and delivers queued pushes and multicasts (the broadcast/outbox path), then restarted
on the same database. Afterwards: every event processed once, no partial record, nothing sent
twice, nothing queued lost."""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
from sqlmodel import func, select

from bot.db import Database
from bot.devmode import build_event, post_webhook
from bot.messages import Text
from bot.models import InboundEvent, OutboundMessage
from bot.outbox import enqueue_multicast, enqueue_push
from tests.chaos.harness import (REPO, fresh_database_url, losses_and_duplicates, out_of_order, outbox_deliveries,
                                 record_counts)
from tests.conftest import CHANNEL_SECRET, free_port


class BotProcess:
    def __init__(self, database_url: str, fake_url: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.run_app", database_url, fake_url, str(self.port)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout.readline().strip() == "READY", "the bot process did not start"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


class Deliverer:
    """Plays LINE: posts each event until it gets a 2xx (a redelivery after any failure)."""

    def __init__(self, fake_line, users: int, per_user: int):
        self.fake_line = fake_line
        self.per_user = per_user
        self.events: list[list[dict]] = [[] for _ in range(users)]
        self.url = None
        self.refused = 0
        self.stop = threading.Event()

    def run_user(self, index: int) -> None:
        for step in range(self.per_user):
            # Built when sent: LINE issues the reply token when the person sends the message.
            event = build_event(self.fake_line, user_id=f"U{index:030x}cc", kind="text" if step % 3 == 0 else "sticker",
                                text="數位小測驗")
            self.events[index].append(event)
            attempt = event
            while not self.stop.is_set():
                try:
                    if self.url and post_webhook(self.url, CHANNEL_SECRET, [attempt]).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                self.refused += 1
                attempt = dict(event, deliveryContext={"isRedelivery": True})
                time.sleep(0.1)
            time.sleep(random.uniform(0.0, 0.15))


def _queue_broadcast_work(database: Database, round_index: int, users: list[str]) -> int:
    """Pushes and a multicast queued the way broadcasts/reminders queue them (in a transaction)."""
    with database.write_session() as session:
        rows = enqueue_multicast(session, to=users, replies=[Text(f"公告 {round_index}")],
                                 idempotency_key=f"chaos-broadcast-{round_index}", origin="broadcast:chaos")
        for user in users[:10]:
            rows += enqueue_push(session, to=user, replies=[Text(f"提醒 {round_index}")],
                                 idempotency_key=f"chaos-push-{round_index}-{user}", origin="reminder:chaos")
    return len(rows)


def _settled(database: Database) -> bool:
    with database.session() as session:
        busy = session.exec(select(func.count()).select_from(InboundEvent)
                            .where(InboundEvent.status.in_(("pending", "processing")))).one()
        unsent = session.exec(select(func.count()).select_from(OutboundMessage)
                              .where(OutboundMessage.status.in_(("pending", "sending")))).one()
    return busy == 0 and unsent == 0


def run_crashes(tmp_path, fake_line, *, kills: int, users: int, per_user: int, seed: int) -> dict:
    random.seed(seed)
    fake_line.reset()
    url = fresh_database_url(tmp_path)
    database = Database(url)
    deliverer = Deliverer(fake_line, users, per_user)
    posters = [threading.Thread(target=deliverer.run_user, args=(index,), daemon=True) for index in range(users)]
    queued = 0
    process = BotProcess(url, fake_line.url)
    deliverer.url = process.url
    for thread in posters:
        thread.start()
    try:
        for round_index in range(kills):
            queued += _queue_broadcast_work(database, round_index, [f"U{u:030x}cc" for u in range(users)])
            time.sleep(random.uniform(0.1, 1.2))  # somewhere in processing, sending or retrying
            deliverer.url = None
            process.kill()
            process = BotProcess(url, fake_line.url)
            deliverer.url = process.url
        for thread in posters:
            thread.join(timeout=120)
        deadline = time.monotonic() + 90
        while not _settled(database) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _settled(database), "work left behind after the restarts"
        time.sleep(1.0)
        rows, deliveries = outbox_deliveries(database, fake_line)
        lost, doubled = losses_and_duplicates(rows, deliveries)
        all_events = [event for events in deliverer.events for event in events]
        with database.session() as session:
            stored = session.exec(select(InboundEvent)).all()
            statuses = {event.status for event in stored}
            answered = {label for label, _, _ in rows.values()}
        # No partial record: each event is done and has its reply rows (one transaction).
        assert len(stored) == len(all_events) and statuses == {"done"}
        assert {e["webhookEventId"] for e in all_events} <= answered
        if lost:
            with database.session() as session:
                detail = [(r.id, r.kind, r.status, r.attempts, r.ambiguous_reply, r.sent_as, r.last_error, r.origin)
                          for r in session.exec(select(OutboundMessage).where(OutboundMessage.id.in_(lost))).all()]
            pytest.fail(f"{len(lost)} queued messages never delivered: {detail}")
        assert doubled == [], f"{len(doubled)} messages delivered twice"
        assert out_of_order(rows, deliveries) == []
        return {"kills": kills, "events": len(all_events), "queued_pushes_and_multicasts": queued,
                "outbox_rows": len(rows), "webhook_redeliveries_while_down": deliverer.refused,
                "losses": len(lost), "duplicates": len(doubled)}
    finally:
        deliverer.stop.set()
        process.kill()
        database.dispose()


@pytest.mark.slow
def test_random_sigkills_lose_and_double_nothing(tmp_path, fake_line):
    counts = run_crashes(tmp_path, fake_line, kills=4, users=10, per_user=10, seed=20261121)
    record_counts("crash_sigkill", **counts)


class RemoteChat:
    """Drives a conversation with a bot process that may be killed: every event is redelivered
    until some process answers 2xx (as LINE does), replies are read from the fake."""

    def __init__(self, fake_line, user: str):
        self.fake = fake_line
        self.user = user
        self.url = None
        self.last: list[dict] = []

    def deliver(self, event: dict, *, wait: bool = True) -> list[dict]:
        before = len(self.fake.messages_for(self.user))
        attempt = event
        for _ in range(600):
            try:
                if self.url and post_webhook(self.url, CHANNEL_SECRET, [attempt]).status_code == 200:
                    break
            except requests.RequestException:
                pass
            attempt = dict(event, deliveryContext={"isRedelivery": True})
            time.sleep(0.1)
        if not wait:
            return []
        deadline = time.monotonic() + 60
        while len(self.fake.messages_for(self.user)) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        self.last = self.fake.messages_for(self.user)[before:]
        return self.last

    def say(self, text: str, **kwargs) -> list[dict]:
        return self.deliver(build_event(self.fake, user_id=self.user, kind="text", text=text), **kwargs)

    def tap(self, label: str) -> list[dict]:
        from tests.conftest import _button_actions

        actions = []
        for message in self.last:
            actions += [item["action"] for item in (message.get("quickReply") or {}).get("items", [])]
            actions += _button_actions(message.get("contents", {}))
        action = next(a for a in actions if label in a.get("label", ""))
        if action["type"] == "message":
            return self.say(action["text"])
        return self.deliver(build_event(self.fake, user_id=self.user, kind="postback", data=action["data"]))


def _kill_and_redeliver(process: "BotProcess", chat: "RemoteChat", database: Database, url: str, fake_line,
                        event: dict, *, max_delay: float) -> "BotProcess":
    """Post ``event``, SIGKILL the process at a random moment of its handling, start a new one on
    the same database, let LINE redeliver the event, and wait until everything has settled."""
    post_webhook(process.url, CHANNEL_SECRET, [event])
    time.sleep(random.uniform(0.0, max_delay))  # storing, processing, committing or replying
    process.kill()
    process = BotProcess(url, fake_line.url)
    chat.url = process.url
    chat.deliver(dict(event, deliveryContext={"isRedelivery": True}), wait=False)
    deadline = time.monotonic() + 60
    while not _settled(database) and time.monotonic() < deadline:
        time.sleep(0.25)
    return process


@pytest.mark.slow
def test_sigkill_while_signing_a_letter_leaves_one_whole_letter(tmp_path, fake_line):
    """Killed right after the signature is sent (random moment) and once mid-form: after the
    restart there is exactly one signed letter with its version and events, confirmed once."""
    letters = pytest.importorskip("letters.models")
    from companies.models import Company, CompanyMember
    from tests.conftest import joined
    from bot.devmode.fake_line import message_text

    random.seed(8)
    fake_line.reset()
    url = fresh_database_url(tmp_path)
    database = Database(url)
    user = "U" + "7e" * 16
    with database.write_session() as session:
        company = Company(tax_id="04595257", name="小明商行", registration="business", employees=3,
                          main_product="手搖飲", verdict="eligible", answers={"prior_funding": []})
        session.add(company)
        session.flush()
        session.add(CompanyMember(company_id=company.id, line_user_id=user))
    chat = RemoteChat(fake_line, user)
    process = BotProcess(url, fake_line.url)
    chat.url = process.url
    kills = 0
    try:
        texts = lambda: joined([message_text(m) for m in chat.last])  # noqa: E731
        chat.say("簽署合作意向書")
        chat.tap("同意")
        chat.say("王小明")
        # Killed while the phone number is being processed; LINE redelivers it to the new process.
        chat.url = None
        pending = build_event(fake_line, user_id=user, kind="text", text="0912-345-678")
        post_webhook(process.url, CHANNEL_SECRET, [pending])
        time.sleep(random.uniform(0.0, 0.4))
        process.kill()
        kills += 1
        process = BotProcess(url, fake_line.url)
        chat.url = process.url
        chat.deliver(dict(pending, deliveryContext={"isRedelivery": True}))
        chat.say("02-2345-6789#12")
        chat.say("shop@example.com")
        chat.say("台北市大同區承德路二段239號")
        chat.say("王大明")
        assert "請確認意向書內容" in texts()
        chat.tap("內容正確")
        chat.tap("我同意")
        signature = build_event(fake_line, user_id=user, kind="text", text="王大明")
        process = _kill_and_redeliver(process, chat, database, url, fake_line, signature, max_delay=0.5)
        kills += 1
        time.sleep(1.0)
        with database.session() as session:
            signed = session.exec(select(letters.Letter)).all()
            versions = session.exec(select(letters.LetterVersion)).all()
            events = session.exec(select(letters.LetterEvent)).all()
        assert len(signed) == 1 and signed[0].status == "signed"
        assert versions and all(v.letter_id == signed[0].id for v in versions)
        assert events and all(e.letter_id == signed[0].id for e in events)
        all_texts = fake_line.texts_for(user)
        assert sum("簽署完成" in text for text in all_texts) == 1, "the confirmation was lost or doubled"
        assert sum("09 開頭" in text for text in all_texts) == 0  # the redelivered phone number was taken once
        rows, deliveries = outbox_deliveries(database, fake_line)
        lost, doubled = losses_and_duplicates(rows, deliveries)
        assert lost == [] and doubled == []
        record_counts("crash_letter_signing", kills=kills, letters=len(signed), losses=len(lost), duplicates=len(doubled))
    finally:
        process.kill()
        database.dispose()


@pytest.mark.slow
def test_sigkill_while_logging_visits_leaves_each_visit_once(tmp_path, fake_line):
    """An advisor logs visits in one message each; the process is killed at a random moment
    while each log is processed and LINE redelivers it to the restarted process: every visit is
    on record exactly once (whole, status done) and confirmed exactly once."""
    from bot.devmode.fake_line import message_text
    from bot.models import RoleGrant
    from companies.models import Company
    from visits.models import Visit

    random.seed(11)
    fake_line.reset()
    url = fresh_database_url(tmp_path)
    database = Database(url)
    advisor = "U" + "ad" * 16
    with database.write_session() as session:
        session.add(RoleGrant(line_user_id=advisor, role="advisor", granted_by="test"))
        session.add(Company(name="好味道小吃", tax_id="12345675", advisor_line_user_id=advisor, county="臺北市"))
    chat = RemoteChat(fake_line, advisor)
    process = BotProcess(url, fake_line.url)
    chat.url = process.url
    messages = ["訪視 12345675 現地 3/10 14:00 POS教學 1.5小時", "訪視 12345675 線上 3/12 10:00 LINE官方帳號 1小時",
                "訪視 12345675 電話 3/15 09:30 記帳系統 0.5小時"]
    kills = 0
    try:
        for text in messages:
            event = build_event(fake_line, user_id=advisor, kind="text", text=text)
            process = _kill_and_redeliver(process, chat, database, url, fake_line, event, max_delay=0.3)
            kills += 1
        time.sleep(1.0)
        with database.session() as session:
            visits = session.exec(select(Visit).where(Visit.deleted_at.is_(None))).all()
        assert sorted(v.mode for v in visits) == ["online", "onsite", "phone"]
        assert all(v.status == "done" and v.duration_minutes and v.topics for v in visits)
        confirmations = [message_text(m) for m in fake_line.messages_for(advisor) if "訪視已記錄" in message_text(m)]
        assert len(confirmations) == 3, "a visit confirmation was lost or doubled"
        rows, deliveries = outbox_deliveries(database, fake_line)
        lost, doubled = losses_and_duplicates(rows, deliveries)
        assert lost == [] and doubled == []
        record_counts("crash_visit_logging", kills=kills, visits=len(visits), losses=len(lost), duplicates=len(doubled))
    finally:
        process.kill()
        database.dispose()
