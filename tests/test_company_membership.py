"""Company membership is granted, not claimed (issue 18 item 1).

A 統一編號 is public. A second LINE account typing a registered company's 統編 in the eligibility
check must not become its owner: each path the review used (overwriting the company's answers,
「我的意向書」's PDF, 「我的資料」's export, 「修改意向書」, withdrawal) and every other path that
resolves "the user's company" (signing, visits, reminders, corrections, broadcast segments) is
tried here through the chat and gives the requester nothing until a member approves. Then the
approval itself: in chat by a member only (stale, duplicate and forged taps), on the dashboard
and the CLI by staff, each audited, the requester told by push.
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlmodel import select

from bot.db import utc_now
from bot.messages import encode_postback
from bot.models import AuditEntry, RoleGrant, User
from bot.texts import t
from broadcasts import service as broadcasts_service
from companies import service as companies
from companies.models import Company, CompanyJoinRequest, CompanyMember
from letters.models import Letter, LetterVersion
from staff import service as staff_service
from tests.conftest import STAFF_TOKEN, _button_actions, eventually, joined
from tests.test_eligibility_chat import begin, chat, drive, step_of  # noqa: F401 (chat: the steady fixture)
from tests.test_letters_record import signed_letter
from visits.models import Visit

OWNER = "U" + "1" * 32
STAFF = "U" + "5" * 32
ADVISOR = "U" + "d" * 32
TAX_ID, NAME = "04595257", "小明商行"
SECRETS = ("小明商行", "王小明", "0912345678", "shop@example.com", "承德路", "王大明")  # the owner's letter
ANSWERS = {"registration": "company", "employees": 3, "prior_funding": [], "tax_id": TAX_ID}
BEARER = {"Authorization": f"Bearer {STAFF_TOKEN}"}
BROWSER = "/usr/bin/chromium"


def _db(app):
    return app.extensions["bot"].database


def registered_company(app, chat) -> int:
    """The owner's company: registered by the owner's account, with a signed letter (contact
    details), an advisor and a visit booked; the owner follows the bot. The company's id."""
    chat.as_user(OWNER).follow()
    letter_id = signed_letter(app, user=OWNER, tax_id=TAX_ID, name=NAME)
    with _db(app).session() as session:
        company_id = session.get(Letter, letter_id).company_id
        company = session.get(Company, company_id)
        company.advisor_line_user_id = ADVISOR
        session.add(company)
        session.add(Visit(company_id=company_id, advisor_line_user_id=ADVISOR, status="booked", mode="onsite",
                          scheduled_at=utc_now() + timedelta(days=2)))
    return company_id


def ask_to_join(chat, *, again: bool = False) -> list[str]:
    """The eligibility check with the owner's 統編, then 「申請加入這家公司」; everything said."""
    if again:
        chat.say("重新檢查資格")
    else:
        begin(chat)
    texts = drive(chat, ANSWERS, stop_at="join")
    assert step_of(chat) == "join"
    return texts + chat.tap(t("companies.join_button"))


def owner_card_actions(fake_line, user: str = OWNER) -> list[dict]:
    """The buttons of the last join-request card pushed to a member."""
    for message in reversed(fake_line.messages_for(user)):
        actions = _button_actions(message.get("contents", {}))
        if any(a.get("label") == t("companies.approve") for a in actions):
            return actions
    raise AssertionError("no join request card")


def tap(chat, actions: list[dict], label: str) -> list[str]:
    return chat.tap_action(next(a for a in actions if a.get("label") == label))


def urls(texts: list[str]) -> list[str]:
    return re.findall(r"https?://[^\s）」]+", joined(texts))


def test_typing_a_registered_tax_id_gives_nothing_of_the_company_through_any_path(app, chat, fake_line,
                                                                                  live_server):
    company_id = registered_company(app, chat)
    texts = ask_to_join(chat)
    shown = joined(texts)
    assert t("companies.join_sent").splitlines()[0] in shown
    assert not any(secret in shown for secret in SECRETS)  # not even the name: only what was typed
    assert eventually(lambda: any(f"有人申請加入「{NAME}」" in x for x in fake_line.texts_for(OWNER)))

    # The company's record: the requester's answers did not overwrite it, nobody was linked.
    with _db(app).session() as session:
        company = session.get(Company, company_id)
        assert (company.name, company.main_product, company.employees) == (NAME, "手搖飲", 3)
        assert companies.members_of(session, company_id=company_id) == [OWNER]
        join = session.exec(select(CompanyJoinRequest)).one()
        assert join.status == "pending" and join.answers["employees"] == 3 and join.answers["verdict"] == "eligible"

    # 「我的意向書」: no letter, no PDF link.
    texts = chat.say("我的意向書")
    assert t("letters.status_none") in joined(texts) and not urls(texts)
    assert not any(a.get("type") == "uri" for a in chat.actions())
    # 「修改意向書」 / 「撤回意向書」 / 「傳用印頁」: nothing to correct, withdraw or attach to.
    for words in ("修改意向書", "撤回意向書", "確定撤回意向書"):
        texts = chat.say(words)
        assert t("letters.status_none") in joined(texts), words
    assert t("letters.photo_no_letter") in joined(chat.say("傳用印頁"))
    # 「簽署合作意向書」: told the request is waiting, no signing flow.
    texts = chat.say("簽署合作意向書")
    assert t("companies.join_pending") in joined(texts) and step_of(chat) is None
    with _db(app).session() as session:
        assert len(session.exec(select(LetterVersion)).all()) == 1
        assert session.exec(select(Letter)).one().status == "signed"

    # 「我的資料」 and its downloads: nothing of the company or its letter.
    texts = chat.say("我的資料")
    assert not any(secret in joined(texts) for secret in SECRETS)
    # The downloads are buttons (a readable page, CSV and the complete JSON).
    exports = [a["uri"] for a in chat.actions() if a.get("type") == "uri" and "/privacy/export/" in a["uri"]]
    assert len(exports) == 3
    for url in exports:
        body = requests.get(url, timeout=5).text
        assert not any(secret in body for secret in SECRETS), url
        assert OWNER not in body  # nor who runs the company
    # 「修正資料」: the company's details are not offered for correction.
    assert not any(secret in joined(chat.say("修正資料")) for secret in SECRETS)
    chat.say("取消")

    # Visits and reminders of the company.
    assert t("reminders.booking_no_company") in joined(chat.say("預約訪視"))
    assert not any(secret in joined(chat.say("我的提醒")) for secret in SECRETS)
    with _db(app).session() as session:
        eligible = broadcasts_service.resolve_audience(session, kind="verdict", value="eligible")
        assert OWNER in eligible and chat.user_id not in eligible

    # Starting the check again shows the pending request, not the company.
    texts = chat.say("我符合資格嗎？")
    assert TAX_ID in joined(texts) and not any(secret in joined(texts) for secret in SECRETS)

    # A forged tap on the members' approve button, by the requester: refused, audited.
    texts = chat.send("postback", data=encode_postback(c=companies.DECIDE_COMMAND, arg=f"{join.id}:approve"))
    assert t("core.button_expired_no_flow") in joined(texts)
    with _db(app).session() as session:
        assert session.get(CompanyJoinRequest, join.id).status == "pending"
        assert not companies.is_member(session, company_id=company_id, line_user_id=chat.user_id)
        refused = session.exec(select(AuditEntry).where(AuditEntry.action == "company_join_refused")).one()
        assert refused.actor == chat.user_id

    # Asking again while pending files nothing new and pushes nothing new to the owner.
    cards = sum(f"有人申請加入「{NAME}」" in x for x in fake_line.texts_for(OWNER))
    texts = ask_to_join(chat, again=True)
    assert t("companies.join_pending") in joined(texts)
    with _db(app).session() as session:
        assert len(session.exec(select(CompanyJoinRequest)).all()) == 1
    assert sum(f"有人申請加入「{NAME}」" in x for x in fake_line.texts_for(OWNER)) == cards


def test_the_owner_approves_in_chat_and_a_second_tap_changes_nothing(app, chat, fake_line):
    company_id = registered_company(app, chat)
    ask_to_join(chat)
    owner = chat.as_user(OWNER)
    assert eventually(lambda: any(f"有人申請加入「{NAME}」" in x for x in fake_line.texts_for(OWNER)))
    actions = owner_card_actions(fake_line)
    texts = tap(owner, actions, t("companies.approve"))
    assert "已同意" in joined(texts)
    assert eventually(lambda: any(f"「{NAME}」已同意您加入" in x for x in fake_line.texts_for(chat.user_id)))
    # A second tap (the same card, or another member's) decides nothing again.
    assert t("companies.already_approved") in joined(tap(owner, actions, t("companies.decline")))
    with _db(app).session() as session:
        assert set(companies.members_of(session, company_id=company_id)) == {OWNER, chat.user_id}
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "company_join_approved")).one()
        assert entry.actor == OWNER and entry.target == f"company:{company_id}" and entry.detail["via"] == "chat"
    # Now a member: the letter, its PDF link and the company's record are theirs too.
    texts = chat.say("我的意向書")
    assert NAME in joined(texts) and any("/letters/" in a.get("uri", "") for a in chat.actions())


def test_a_declined_requester_is_told_and_cannot_keep_asking(app, chat, fake_line):
    company_id = registered_company(app, chat)
    ask_to_join(chat)
    owner = chat.as_user(OWNER)
    assert eventually(lambda: any(f"有人申請加入「{NAME}」" in x for x in fake_line.texts_for(OWNER)))
    texts = tap(owner, owner_card_actions(fake_line), t("companies.decline"))
    assert "已婉拒" in joined(texts)
    assert eventually(lambda: any("對方沒有同意" in x for x in fake_line.texts_for(chat.user_id)))
    assert not any(NAME in x for x in fake_line.texts_for(chat.user_id))
    texts = ask_to_join(chat, again=True)
    assert t("companies.join_declined_recently") in joined(texts)
    with _db(app).session() as session:
        assert companies.members_of(session, company_id=company_id) == [OWNER]
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "company_join_declined")).one().actor == OWNER


def test_staff_decide_when_the_owner_is_gone_on_the_dashboard_and_the_cli(app, chat, fake_line, live_server):
    company_id = registered_company(app, chat)
    with _db(app).session() as session:
        session.add(RoleGrant(line_user_id=STAFF, role="staff", granted_by="test"))
        session.add(User(line_user_id=STAFF))
        session.delete(session.exec(select(CompanyMember)).one())  # the owner erased their account
    texts = ask_to_join(chat)
    assert t("companies.join_sent_staff").splitlines()[0] in joined(texts)
    assert eventually(lambda: any("【加入申請】" in x and TAX_ID in x for x in fake_line.texts_for(STAFF)))
    with _db(app).session() as session:
        join_id = session.exec(select(CompanyJoinRequest.id)).one()

    runner = app.test_cli_runner()
    listed = runner.invoke(args=["companies", "requests", "--json"])
    assert listed.exit_code == 0 and f'"id": {join_id}' in listed.output and NAME in listed.output
    # The dashboard: a staff session (CSRF) or the bearer token; nobody else.
    url = f"{live_server.url}/staff/join-requests/{join_id}/approve"
    assert requests.post(url, timeout=5).status_code == 403
    assert requests.post(url, headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 403
    with _db(app).session() as session:
        token = staff_service.create_login_token(session, line_user_id=STAFF)
    browser = requests.Session()
    assert browser.post(f"{live_server.url}/staff/login/{token}", allow_redirects=False).status_code == 302
    page = browser.get(f"{live_server.url}/staff/join-requests", timeout=5).text
    assert NAME in page and TAX_ID in page
    assert browser.post(url, timeout=5).status_code == 400  # no CSRF token
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    done = browser.post(url, data={"csrf": csrf}, timeout=5)
    assert done.status_code == 200 and f"申請 #{join_id} 已處理" in done.text
    assert eventually(lambda: any(f"「{NAME}」已同意您加入" in x for x in fake_line.texts_for(chat.user_id)))
    again = requests.post(url, headers=BEARER, timeout=5)
    assert again.status_code == 409 and again.json()["error"] == "decided"
    assert runner.invoke(args=["companies", "decline", str(join_id)]).exit_code == 1  # decided already
    with _db(app).session() as session:
        assert companies.members_of(session, company_id=company_id) == [chat.user_id]
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "company_join_approved")).one()
        assert entry.actor == STAFF and entry.detail["via"] == "dashboard"

    # The CLI declines another person's request.
    other = chat.as_user("U" + "c" * 32)
    ask_to_join(other)
    with _db(app).session() as session:
        other_id = companies.pending_request(session, company_id=company_id, line_user_id=other.user_id).id
    declined = runner.invoke(args=["companies", "decline", str(other_id)])
    assert declined.exit_code == 0 and "declined" in declined.output
    assert eventually(lambda: any("對方沒有同意" in x for x in fake_line.texts_for(other.user_id)))
    with _db(app).session() as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "company_join_declined")).one()
        assert entry.actor == "cli" and entry.detail["via"] == "cli"


def test_staff_remove_a_member_who_registered_a_shop_not_theirs(app, chat, fake_line):
    # The first account to complete the intake owns the shop; when that was a squatter, staff take
    # the membership away: audited, both sides told, and the account then sees nothing of the shop.
    company_id = registered_company(app, chat)
    squatter = chat.as_user(OWNER)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["companies", "members", TAX_ID, "--json"])
    assert listed.exit_code == 0 and OWNER in listed.output
    assert runner.invoke(args=["companies", "remove-member", TAX_ID, STAFF, "--reason", "x"]).exit_code == 1
    assert runner.invoke(args=["companies", "members", "12345675"]).exit_code == 1  # no such shop
    done = runner.invoke(args=["companies", "remove-member", TAX_ID, OWNER, "--reason", "不是這家店的人"])
    assert done.exit_code == 0, done.output
    with _db(app).session() as session:
        assert companies.members_of(session, company_id=company_id) == []
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "company_member_removed")).one()
        assert entry.actor == "cli" and entry.detail["reason"] == "不是這家店的人"
        assert session.exec(select(LetterVersion)).first() is not None  # the signed record stays
    assert eventually(lambda: any("移除" in x for x in fake_line.texts_for(OWNER)))
    texts = joined(squatter.say("我的意向書"))
    assert not any(secret in texts for secret in SECRETS)


@pytest.mark.browser
@pytest.mark.skipif(not Path(BROWSER).exists(), reason="needs /usr/bin/chromium")
def test_join_requests_page_in_headless_chromium_on_a_phone(app, chat, live_server):
    from playwright.sync_api import sync_playwright

    company_id = registered_company(app, chat)
    ask_to_join(chat)
    with _db(app).session() as session:
        session.add(RoleGrant(line_user_id=STAFF, role="staff", granted_by="test"))
        token = staff_service.create_login_token(session, line_user_id=STAFF)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, headless=True,
                                             args=["--no-sandbox", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        page.goto(f"{live_server.url}/staff/login/{token}")
        page.click("#login-button")
        page.click("text=加入申請")
        page.wait_for_selector("#join-requests")
        assert NAME in page.inner_text("#join-requests")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.click("#join-requests button.primary")
        page.wait_for_selector("text=已處理")
        browser.close()
    with _db(app).session() as session:
        assert companies.is_member(session, company_id=company_id, line_user_id=chat.user_id)
