"""「我的資料」: summary and export link, correction, stop/resume processing, erasure everywhere,
staff access, statement versioning, and no personal data in info logs (issue 8, personal data)."""
from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from datetime import timedelta

import requests
import sqlalchemy as sa
from sqlmodel import select

from bot.db import utc_now
from bot.models import AuditEntry, OutboundMessage, RoleGrant, User
from bot.outbox import enqueue_multicast, enqueue_push
from bot.messages import Text
from companies.models import Company, CompanyMember
from privacy import datamap, finalise
from tests.conftest import STAFF_TOKEN, joined

USER = "U" + "a" * 32  # the chat fixture's user
OTHER = "U" + "6" * 32
NAME = "林測試員"
MOBILE = "0987654321"
EMAIL = "lin.tester@example.org"
REPRESENTATIVE = "林大代表"
COMPANY_PHONE = "02-2771-3456"


def _db(app):
    return app.extensions["bot"].database


def consent(chat, name: str = NAME):
    chat.fake.profiles[chat.user_id] = {"displayName": name}
    chat.follow()
    chat.say("同意個資聲明")
    texts = chat.tap("同意")
    assert "謝謝" in joined(texts) or "同意" in joined(texts)
    chat.follow(unblocked=True)  # with consent on record the LINE name is kept


def add_company(app, user: str = USER, **answers) -> int:
    with _db(app).write_session() as session:
        company = Company(tax_id="24536806", name="林家小吃", county="臺北市", township="大安區", employees=3,
                          registration="business", verdict="eligible", main_product="滷肉飯",
                          answers={"registration": "business", "employees": 3, **answers})
        session.add(company)
        session.flush()
        session.add(CompanyMember(company_id=company.id, line_user_id=user))
        return company.id


def latest_text(chat) -> str:
    return joined(chat.fake.texts_for(chat.user_id)[-3:])


def export_link(chat, kind: str) -> str:
    """The download button of 「我的資料」 (page | csv | json) in the last exchange."""
    suffix = {"page": ".html", "csv": ".csv", "json": ".json"}[kind]
    return next(a["uri"] for a in chat.actions() if a.get("type") == "uri" and a["uri"].endswith(suffix))


# --- 我的資料 and the export link -----------------------------------------------------------------

def test_my_data_summary_and_export_link(app, chat, live_server):
    consent(chat)
    add_company(app)
    texts = chat.say("我的資料")
    text = joined(texts)
    assert "我的資料" in text and NAME in text and "林家小吃" in text and "已簽署" not in text
    assert "修正資料" in chat.labels() and "刪除我的資料" in chat.labels()
    assert "/privacy/export/" not in text  # links are buttons, not raw addresses to read
    assert "gonghao" not in text and "其他紀錄" not in text and "已同意（" in text
    json_url, csv_url, page_url = (export_link(chat, kind) for kind in ("json", "csv", "page"))
    assert USER not in json_url  # the link does not carry the LINE id

    response = requests.get(json_url, timeout=5)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    document = response.json()
    assert document["tables"]["users"][0]["line_user_id"] == USER
    assert document["tables"]["companies"][0]["name"] == "林家小吃"
    assert "conversations" in document["tables"] and "audit_log" in document["tables"]

    response = requests.get(csv_url, timeout=5)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["類別", "項目", "欄位", "內容"]  # readable: zh-TW sections and labels
    assert ["基本資料", "", "LINE 名稱", NAME] in rows
    assert ["企業與資格檢查", "林家小吃", "統一編號", "24536806"] in rows
    assert ["企業與資格檢查", "林家小吃", "資格檢查結果", "符合資格"] in rows

    page = requests.get(page_url, timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    for words in ("我的資料", NAME, "林家小吃", "登記類型", "商業登記", "操作紀錄", "同意個資聲明"):
        assert words in page.text, words
    for internal in ("line_user_id", "display_name", "gonghao", "consent_version", USER):
        assert internal not in page.text and internal not in response.text, internal

    # Tampered token: 404. Another person's data is never reachable by editing the link.
    token = json_url.rsplit("/", 1)[-1][:-len(".json")]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert requests.get(f"{live_server.url}/privacy/export/{tampered}.json", timeout=5).status_code == 404
    assert requests.get(f"{live_server.url}/privacy/export/{token}.xml", timeout=5).status_code == 404
    with _db(app).session() as session:
        actions = session.exec(select(AuditEntry.action).where(AuditEntry.actor == USER)).all()
    assert "privacy_exported" in actions


def test_expired_export_link_is_gone(app, chat, live_server):
    consent(chat)
    chat.say("我的資料")
    url = export_link(chat, "json")
    app.config["PRIVACY_EXPORT_SECONDS"] = 1
    try:
        time.sleep(2.1)
        response = requests.get(url, timeout=5)
        assert response.status_code == 410
        assert "過期" in response.text
    finally:
        app.config.pop("PRIVACY_EXPORT_SECONDS")


# --- 修正 -----------------------------------------------------------------------------------------

def test_correct_a_company_detail_and_an_answer_in_chat(app, chat):
    consent(chat)
    company_id = add_company(app)
    texts = chat.say("修正資料")
    assert "要修正哪一項" in joined(texts)
    assert "公司名稱" in chat.labels()
    chat.tap("員工人數")
    texts = chat.say("很多人")
    assert "整數" in joined(texts)
    texts = chat.say("7")
    assert "已將「員工人數」更新為：7" in joined(texts)
    chat.say("修正資料")
    chat.tap("登記類型")
    texts = chat.tap("公司登記")
    assert "公司登記" in joined(texts)
    with _db(app).session() as session:
        company = session.get(Company, company_id)
        assert company.employees == 7 and company.answers["employees"] == 7
        assert company.answers["registration"] == "company"
        audits = session.exec(select(AuditEntry).where(AuditEntry.action == "privacy_corrected")).all()
    assert {a.detail["field"] for a in audits} == {"employees", "registration"}
    # field names only, never the values
    assert all("7" not in json.dumps(a.detail) and "company\"" not in json.dumps(a.detail) for a in audits)


def test_correct_display_name_is_validated(app, chat):
    consent(chat)
    chat.say("修正資料")
    chat.tap("LINE 名稱")
    texts = chat.say("x" * 61)
    assert "1 到 60" in joined(texts)
    texts = chat.say("林新名")
    assert "林新名" in joined(texts)
    with _db(app).session() as session:
        assert session.exec(select(User.display_name).where(User.line_user_id == USER)).one() == "林新名"


# --- 停止處理 / 恢復處理 ---------------------------------------------------------------------------

def test_stop_processing_blocks_pushes_and_resume_restores(app, chat):
    consent(chat)
    texts = chat.say("停止處理")
    assert "停止處理" in joined(texts)
    runtime = app.extensions["bot"]
    with runtime.database.write_session() as session:
        assert session.exec(select(User.processing_stopped).where(User.line_user_id == USER)).one() is True
        enqueue_push(session, to=USER, replies=[Text("提醒：明天訪視")], idempotency_key="t-stop-1", origin="test")
    runtime.sender.deliver_due()
    assert "提醒：明天訪視" not in joined(chat.fake.texts_for(USER))
    chat.say("恢復處理")
    with runtime.database.write_session() as session:
        assert session.exec(select(User.processing_stopped).where(User.line_user_id == USER)).one() is False
        enqueue_push(session, to=USER, replies=[Text("提醒：後天訪視")], idempotency_key="t-stop-2", origin="test")
    runtime.sender.deliver_due()
    assert chat.fake.wait_for(lambda: "提醒：後天訪視" in joined(chat.fake.texts_for(USER)), 5)


# --- statement versioning -------------------------------------------------------------------------

def test_a_new_statement_version_asks_again(app, chat):
    consent(chat)
    with _db(app).write_session() as session:
        user = session.exec(select(User).where(User.line_user_id == USER)).one()
        user.consent_version = "gonghao-2022-old"
        session.add(user)
    chat.say("我的資料")
    assert "尚未重新同意" in latest_text(chat)
    # A conversation that collects personal data asks for consent to the current version first.
    chat.say("我符合資格嗎？")
    assert "同意" in chat.labels() and "不同意" in chat.labels()
    chat.tap("同意")
    with _db(app).session() as session:
        from dialogs.core_flows import CONSENT_VERSION

        assert session.exec(select(User.consent_version).where(User.line_user_id == USER)).one() == CONSENT_VERSION


def test_generic_rule_for_an_undeclared_table():
    """A table a domain adds later, never declared: ids and personal columns are still found."""
    from privacy.erasure import scrub
    from privacy.registry import infer_rule

    table = sa.Table("future_things", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("line_user_id", sa.String(64)), sa.Column("advisor_line_user_id", sa.String(64)),
                     sa.Column("contact_phone", sa.String(20)), sa.Column("email", sa.String(200)),
                     sa.Column("recipients", sa.JSON), sa.Column("extra", sa.JSON), sa.Column("county", sa.String(20)))
    rule = infer_rule(table)
    assert set(rule.user_columns) == {"line_user_id", "advisor_line_user_id", "recipients"}
    assert set(rule.owner_columns) == {"line_user_id", "recipients"}
    assert set(rule.erase_columns) == {"contact_phone", "email"} and "county" not in rule.erase_columns
    scrubbed = scrub({"to": [USER, OTHER], "note": f"{NAME} {MOBILE}", "by": USER}, line_user_id=USER,
                     pseudonym="anon-x", values={NAME, MOBILE})
    assert scrubbed == {"to": [OTHER], "note": "[已刪除] [已刪除]", "by": "anon-x"}


def test_every_table_with_a_user_id_column_is_covered(app):
    """A domain that adds a column holding LINE ids must name it in its rule (privacy.registry)."""
    from privacy.registry import _texty, is_user_id_column, rule_for

    with _db(app).session() as session:
        tables = datamap.all_tables(session)
    uncovered = {}
    for table in tables:
        rule = rule_for(table)
        if not rule.generic:
            continue  # a handler owns it (letters)
        ids = {c.name for c in table.columns if is_user_id_column(c.name) and _texty(c)}
        if ids - set(rule.user_columns):
            uncovered[table.name] = sorted(ids - set(rule.user_columns))
    assert not uncovered, f"register_personal_data(...) user_columns missing: {uncovered}"


def test_cli_erase_on_a_written_request(app):
    company_id = add_company(app)
    with _db(app).write_session() as session:
        session.add(User(line_user_id=USER, display_name=NAME, consent_version="v"))
        session.add(AuditEntry(actor=USER, action="consent_given"))
    result = app.test_cli_runner().invoke(args=["privacy", "erase", USER])
    assert result.exit_code != 0  # needs --yes
    result = app.test_cli_runner().invoke(args=["privacy", "erase", USER, "--yes"])
    assert result.exit_code == 0, result.output
    leaks = [(t, c) for t, c, text in _every_text_value(app) if USER in text or NAME in text]
    assert not leaks, leaks
    with _db(app).session() as session:
        company = session.get(Company, company_id)
        assert company.name is None and company.answers == {}


# --- 刪除 ------------------------------------------------------------------------------------------

def _sign_letter(app, company_id: int) -> int | None:
    try:
        from letters import document as doc
        from letters import service as letters_service
    except ImportError:
        return None
    fields = {"company_name": "林家小吃", "tax_id": "24536806", "registration": "registered", "employees": 3,
              "contact_name": NAME, "mobile": MOBILE, "phone": COMPANY_PHONE, "email": EMAIL,
              "address": "臺北市大安區仁愛路四段1號", "representative": REPRESENTATIVE}
    with _db(app).write_session() as session:
        company = session.get(Company, company_id)
        letter, _ = letters_service.sign_letter(
            session, company=company, line_user_id=USER, display_name=NAME, fields=fields,
            campaign=doc.campaign_settings(app.config, "gonghao-2023"),
            signature=letters_service.Signature(signed_name=REPRESENTATIVE, ip="203.0.113.9",
                                                user_agent="Mozilla/5.0 Line"),
            consent_sha256=doc.consent_sha256())
        return letter.id


def _fill_every_table(app, company_id: int) -> None:
    """Put the person in as many tables as exist: reminders, visits, broadcasts, staff, questions…"""
    runtime = app.extensions["bot"]
    with runtime.database.write_session() as session:
        names = {t.name for t in datamap.all_tables(session)}
        session.add(RoleGrant(line_user_id=USER, role="advisor", granted_by=OTHER))
        session.add(AuditEntry(actor=OTHER, action="role_granted", target=USER, detail={"role": "advisor"}))
        # Queued for later (not delivered during the test): erasure must cancel and empty them.
        later = utc_now() + timedelta(hours=6)
        enqueue_push(session, to=USER, replies=[Text(f"{NAME} 您好，您的手機 {MOBILE}")],
                     idempotency_key=f"reminder:{USER}:x", origin="test", not_before=later)
        enqueue_multicast(session, to=[USER, OTHER], replies=[Text("公告：說明會")], idempotency_key="bc:1",
                          not_before=later)
        if "visits" in names:
            from visits.models import Visit

            session.add(Visit(company_id=company_id, advisor_line_user_id=OTHER, status="done", mode="onsite",
                              notes=f"與{NAME}討論，電話 {MOBILE}，信箱 {EMAIL}", created_by=OTHER))
        if "reminders" in names:
            from scheduler.models import Reminder

            session.add(Reminder(key=f"personal:{USER}:1", kind="personal", recipient=USER,
                                 payload={"text": f"{NAME} 記得上傳"}, due_at=utc_now() + timedelta(days=1)))
        if "broadcast_lists" in names:
            from broadcasts.models import Broadcast, SavedList

            session.add(SavedList(name="試辦名單", members=[USER, OTHER], created_by=OTHER))
            session.add(Broadcast(created_by=USER, text="各位好", audience_kind="all"))
        if "staff_invites" in names:
            from staff.models import InviteAttempt, StaffInvite, TeamMember

            session.add(StaffInvite(code_hash="h" * 64, role="advisor", name=NAME, created_by=OTHER,
                                    expires_at=utc_now(), used_by=USER, used_at=utc_now()))
            session.add(InviteAttempt(line_user_id=USER, ok=True))
            session.add(TeamMember(line_user_id=USER, display_name=NAME))
        if "unanswered_questions" in names:
            from knowledge.models import UnansweredQuestion

            session.add(UnansweredQuestion(line_user_id=USER, question=f"我的 email {EMAIL} 可以改嗎"))


def _every_text_value(app) -> list[tuple[str, str, str]]:
    """(table, column, text) for every string, JSON and binary value of every row of every table."""
    found = []
    with _db(app).session() as session:
        for table in datamap.all_tables(session):
            for row in session.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    if isinstance(value, (bytes, memoryview)):
                        text = bytes(value).decode("latin-1")
                    elif isinstance(value, (dict, list)):
                        text = json.dumps(value, ensure_ascii=False)
                    else:
                        text = str(value)
                    found.append((table.name, column, text))
    return found


def test_delete_erases_the_person_everywhere_except_the_signed_letter(app, chat):
    consent(chat)
    company_id = add_company(app)
    letter_id = _sign_letter(app, company_id)
    _fill_every_table(app, company_id)
    chat.say(f"我的電話是 {MOBILE}，email {EMAIL}")  # typed personal data: inbound payloads, outbox
    chat.say("我的資料")
    summary_text = joined(chat.fake.texts_for(USER)[-3:])
    if letter_id:
        assert "已簽署（第 1 版）" in summary_text
    export_url = export_link(chat, "json")
    exported = requests.get(export_url, timeout=5).json()["tables"]
    assert {"users", "companies", "conversations", "inbound_events", "audit_log"} <= set(exported)
    if letter_id:
        assert {"letters", "letter_versions", "letter_events"} <= set(exported)
        assert "signature_png" not in exported["letter_versions"][0]
    chat.as_user(OTHER).follow()

    texts = chat.say("刪除我的資料")
    text = joined(texts)
    assert "無法復原" in text and "我了解，刪除" in chat.labels()
    if letter_id:
        assert "合作意向書" in text and "備查" in text
    # Typing the final words before the first step's button does nothing.
    texts = chat.tap("我了解，刪除")
    assert "確定刪除" in joined(texts)
    texts = chat.say("確定刪除")
    done = joined(texts)
    assert "已刪除您的個人資料" in done
    if letter_id:
        assert "002" in done or "提案作業規範" in done

    runtime = app.extensions["bot"]
    runtime.worker.wait_idle(5)
    runtime.sender.deliver_due()
    finalise(runtime.database)  # (the background finaliser may have done it already)
    from privacy.models import PrivacyErasure

    with _db(app).session() as session:
        assert session.exec(select(PrivacyErasure).where(PrivacyErasure.finalised_at.is_(None))).all() == []

    values = _every_text_value(app)
    for needle in (USER, NAME, MOBILE, EMAIL, "0987-654-321"):
        leaks = [(table, column, text[:90]) for table, column, text in values if needle in text]
        assert not leaks, f"{needle!r} still in {leaks}"
    # What the programme requires is kept — and only in the letter record.
    if letter_id:
        from letters.models import Letter, LetterEvent, LetterVersion

        with _db(app).session() as session:
            letter = session.get(Letter, letter_id)
            version = session.exec(select(LetterVersion).where(LetterVersion.letter_id == letter_id)).one()
            kinds = [e.kind for e in session.exec(select(LetterEvent).where(LetterEvent.letter_id == letter_id)
                                                   .order_by(LetterEvent.seq))]
        assert letter.status == "signed" and letter.owner_line_user_id.startswith("anon-")
        assert version.signed_name == REPRESENTATIVE and version.signer_line_user_id == letter.owner_line_user_id
        content = json.loads(version.canonical_json)
        assert content["fields"]["representative"] == REPRESENTATIVE and content["fields"]["phone"] == COMPANY_PHONE
        assert content["fields"]["mobile"] is None and content["ip"] is None
        assert kinds[-1] == "redacted"
        from letters import service as letters_service

        with _db(app).session() as session:  # the hash chain still verifies after the redaction
            assert letters_service.verify_letter(session, letter=session.get(Letter, letter_id)) == []
            note = session.exec(select(LetterEvent).where(LetterEvent.letter_id == letter_id,
                                                          LetterEvent.kind == "redacted")).one()
        assert list(note.detail["original_sha256"].values()) == [version.sha256]
        holders = {table for table, _, text in values if REPRESENTATIVE in text}
        assert holders <= {"letter_versions", "letters", "letter_events"}, holders
    # The other person is untouched; the account can start over.
    with _db(app).session() as session:
        assert session.exec(select(User).where(User.line_user_id == OTHER)).one()
        multicast = session.exec(select(OutboundMessage).where(OutboundMessage.idempotency_key == "bc:1@0")).one()
        assert multicast.recipients == [OTHER]
        assert session.exec(select(User).where(User.line_user_id == USER)).first() is None
    assert requests.get(export_url, timeout=5).status_code == 404  # the old link died with the data
    texts = joined(chat.say("我的資料"))  # a fresh start: nothing of the old account
    assert "尚未同意" in texts and "林家小吃" not in texts and NAME not in texts


def test_delete_needs_both_steps_and_can_be_cancelled(app, chat):
    consent(chat)
    texts = chat.say("確定刪除")
    assert "請先輸入「刪除我的資料」" in joined(texts)
    chat.say("刪除我的資料")
    texts = chat.say("確定刪除")  # skipping the first button
    assert "請先輸入「刪除我的資料」" in joined(texts)
    chat.say("刪除我的資料")
    chat.tap("我了解，刪除")
    texts = chat.say("先不要刪除")
    assert "沒有刪除" in joined(texts)
    texts = chat.say("確定刪除")
    assert "請先輸入" in joined(texts)
    with _db(app).session() as session:
        assert session.exec(select(User).where(User.line_user_id == USER)).one().display_name == NAME


def test_an_old_delete_button_or_a_late_confirmation_deletes_nothing(app, chat):
    consent(chat)
    chat.say("刪除我的資料")
    [old_button] = [a for a in chat.actions() if "我了解，刪除" in a.get("label", "")]
    chat.say("先不要刪除")
    chat.say("刪除我的資料")  # a new request: the first request's button no longer counts
    [button] = [a for a in chat.actions() if "我了解，刪除" in a.get("label", "")]
    assert "請先輸入「刪除我的資料」" in joined(chat.tap_action(old_button))
    assert "確定刪除" in joined(chat.tap_action(button))
    from bot.models import Conversation

    with _db(app).write_session() as session:  # the owner comes back ten minutes later
        conversation = session.get(Conversation, USER)
        pending = dict(conversation.memory["privacy_delete"])
        pending["at"] = (utc_now() - timedelta(minutes=10)).isoformat()
        conversation.memory = {**conversation.memory, "privacy_delete": pending}
        session.add(conversation)
    assert "逾時" in joined(chat.say("確定刪除"))
    assert "請先輸入" in joined(chat.say("確定刪除"))  # the expired request is gone, not waiting
    with _db(app).session() as session:
        assert session.exec(select(User).where(User.line_user_id == USER)).one().display_name == NAME
        assert not session.exec(select(AuditEntry).where(AuditEntry.action == "privacy_erased")).all()


# --- staff access ---------------------------------------------------------------------------------

def test_staff_person_view_needs_the_token_and_is_audited(app, chat, live_server):
    consent(chat)
    add_company(app)
    url = f"{live_server.url}/staff/people/{USER}"
    assert requests.get(url, timeout=5).status_code == 403
    response = requests.get(url, headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=5)
    assert response.status_code == 200
    assert response.json()["tables"]["companies"][0]["name"] == "林家小吃"
    assert requests.get(f"{live_server.url}/staff/people/U{'0' * 32}",
                        headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=5).status_code == 404
    with _db(app).session() as session:
        viewed = session.exec(select(AuditEntry).where(AuditEntry.action == "privacy_staff_viewed")).all()
    assert len(viewed) == 2 and viewed[0].actor == "staff-token" and viewed[0].target == USER


# --- logs -----------------------------------------------------------------------------------------

def test_nothing_personal_in_info_logs(app, chat, caplog):
    caplog.set_level(logging.INFO)
    consent(chat)
    add_company(app)
    chat.say(f"你好，我是{NAME}，手機 {MOBILE}，信箱 {EMAIL}")
    chat.say("我的資料")
    chat.say("修正資料")
    chat.tap("LINE 名稱")
    chat.say("林新名字")
    chat.say("停止處理")
    chat.say("恢復處理")
    chat.say("刪除我的資料")
    chat.tap("我了解，刪除")
    chat.say("確定刪除")
    app.extensions["bot"].worker.wait_idle(5)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.levelno >= logging.INFO)
    for needle in (NAME, MOBILE, EMAIL, "林新名字", USER):
        assert needle not in logged, needle


def test_the_finaliser_looks_without_taking_the_write_lock_when_nothing_waits(app, monkeypatch):
    # It runs every 2 s in every process: on SQLite a write transaction each time queued behind
    # (and held up) webhook acks for SQLite's one write lock, just to find nothing to do.
    # Only this thread's calls count: the app's own background threads (worker, outbox) may take
    # the lock for their own work while the test runs, which once failed CI with 497 foreign takes.
    database = app.extensions["bot"].database
    taken = []
    me = threading.get_ident()

    def note(kwargs):
        if threading.get_ident() == me:
            taken.append(kwargs)

    gate = database._sqlite_writer
    if gate is not None:
        acquire = gate.acquire
        monkeypatch.setattr(gate, "acquire", lambda **kwargs: (note(kwargs), acquire(**kwargs))[1])
    write_session = database.write_session
    monkeypatch.setattr(database, "write_session", lambda **kwargs: (note(kwargs), write_session(**kwargs))[1])
    assert finalise(database) == 0
    assert taken == []
