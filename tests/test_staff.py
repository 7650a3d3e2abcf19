"""Roles by one-time invite codes, permissions, the dashboard login link, assigning companies."""
from __future__ import annotations

import re
from datetime import timedelta

import requests
from sqlmodel import select

from bot.db import utc_now
from bot.models import AuditEntry, RoleGrant
from bot.texts import t
from companies.models import Company
from staff import service
from staff.models import StaffInvite, TeamMember
from tests.conftest import eventually, joined

STAFF = "U" + "5" * 32
NEWBIE = "U" + "6" * 32
STRANGER = "U" + "7" * 32


def _grant(app, user: str, role: str) -> None:
    with app.extensions["bot"].database.session() as session:
        session.add(RoleGrant(line_user_id=user, role=role, granted_by="test"))


def _roles(app, user: str) -> set[str]:
    with app.extensions["bot"].database.session() as session:
        return set(session.exec(select(RoleGrant.role).where(RoleGrant.line_user_id == user)).all())


def _followed(chat, user: str, role: str | None = None):
    """The chat as ``user``, who follows the account (and holds ``role``, if given)."""
    if role:
        _grant(chat.app, user, role)
    person = chat.as_user(user)
    person.follow()
    return person


def _code(texts: list[str]) -> str:
    match = re.search(r"綁定 ([A-Z0-9]{4}-[A-Z0-9]{4})", joined(texts))
    assert match, texts
    return match.group(1)


def test_invite_code_binds_an_advisor_once(app, chat):
    staff = _followed(chat, STAFF, "staff")
    texts = staff.say("/邀請 顧問 王小明")
    assert "24 小時" in joined(texts)
    code = _code(texts)
    newbie = _followed(chat, NEWBIE)
    texts = newbie.say(f"綁定 {code.lower()}")
    assert "綁定完成" in joined(texts) and "顧問" in joined(texts)
    assert _roles(app, NEWBIE) == {"advisor"}
    with app.extensions["bot"].database.session() as session:
        assert session.get(TeamMember, NEWBIE).display_name == "王小明"
        invite = session.exec(select(StaffInvite)).one()
        assert invite.used_by == NEWBIE and code.replace("-", "") not in invite.code_hash
    stranger = _followed(chat, STRANGER)
    assert "已經使用過" in joined(stranger.say(f"綁定 {code}"))
    assert _roles(app, STRANGER) == set()


def test_invite_flow_asks_role_and_name(app, chat):
    staff = _followed(chat, STAFF, "staff")
    texts = staff.say("/邀請")
    assert "哪一種身分" in joined(texts)
    staff.tap("計畫人員")
    texts = staff.tap("略過")
    code = _code(texts)
    newbie = _followed(chat, NEWBIE)
    newbie.say(f"綁定 {code}")
    assert _roles(app, NEWBIE) == {"staff"}


def test_expired_code_and_rate_limited_redemption(app, chat):
    runtime = app.extensions["bot"]
    with runtime.database.session() as session:
        code, invite = service.create_invite(session, actor=STAFF, role="advisor", now=utc_now() - timedelta(hours=25))
    newbie = _followed(chat, NEWBIE)
    assert "過期" in joined(newbie.say(f"綁定 {code}"))
    for _ in range(4):
        assert "不正確" in joined(newbie.say("綁定 ZZZZ-ZZZZ"))
    with runtime.database.session() as session:
        good, _ = service.create_invite(session, actor=STAFF, role="advisor")
    # Five failures in the hour: even a good code is refused now.
    assert "嘗試次數太多" in joined(newbie.say(f"綁定 {good}"))
    assert _roles(app, NEWBIE) == set()


def test_staff_commands_refused_politely_and_audited(app, chat):
    stranger = _followed(chat, STRANGER)
    for command in ("/邀請 顧問", "/公告", "/登入", "/指派 12345675"):
        texts = stranger.say(command)
        assert "無法使用" in joined(texts)
        assert "staff" not in joined(texts) and "權限" not in joined(texts)  # reveals nothing
        assert "找專人" in stranger.labels()  # and a way forward: the menu
    with app.extensions["bot"].database.session() as session:
        denied = session.exec(select(AuditEntry).where(AuditEntry.action == "permission_denied",
                                                       AuditEntry.actor == STRANGER)).all()
    assert {d.target for d in denied} == {"invite", "broadcast", "staff_login", "staff_assign"}
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(StaffInvite)).all() == []


def test_a_staff_command_typed_without_the_slash_is_offered(app, chat):
    # 「回覆」 without 「/」 went to the FAQ and became a ticket for staff; now the command is offered.
    from knowledge.models import UnansweredQuestion

    staff = _followed(chat, STAFF, "staff")
    for typed, label in (("公告 明天下午停班", "/公告"), ("回覆", "/回覆"), ("待回覆", "/待回覆")):
        assert "「/」" in joined(staff.say(typed)), typed
        assert staff.labels() == [label], typed
    # The offer runs the command (the open questions, none here).
    assert joined(staff.tap("/待回覆")) == t("faq.staff_reply_list_empty")
    # An owner typing the same word gets no staff command offered.
    owner = _followed(chat, STRANGER)
    assert "「/」" not in joined(owner.say("公告"))
    with app.extensions["bot"].database.session() as session:
        assert not [q for q in session.exec(select(UnansweredQuestion)).all() if q.line_user_id == STAFF]


def test_advisor_commands_point_staff_to_the_dashboard(app, chat):
    # Staff have no shops assigned; an advisor's per-shop view would be empty, the dashboard is not.
    staff = _followed(chat, STAFF, "staff")
    for command in ("績效趨勢", "前後測進度", "我的進度"):
        texts = staff.say(command)
        assert "管理後台" in joined(texts) and "無法使用" not in joined(texts), texts
    # An owner still learns nothing about the command.
    stranger = _followed(chat, STRANGER)
    assert "無法使用" in joined(stranger.say("績效趨勢"))


def test_login_link_is_one_time_and_needs_the_role(app, chat, live_server):
    staff = _followed(chat, STAFF, "staff")
    staff.say("/登入")
    [button] = [a for a in staff.actions() if a.get("type") == "uri"]
    url = button["uri"]
    assert url.startswith(live_server.url + "/staff/login/")
    browser = requests.Session()
    assert browser.get(url).status_code == 200  # a GET (link preview) does not use it up
    response = browser.post(url, allow_redirects=False)
    assert response.status_code == 302
    page = browser.get(f"{live_server.url}/staff/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "招募進度" in page.text
    again = requests.Session().post(url, allow_redirects=False)
    assert again.status_code == 403
    # Revoking the role ends the session at once.
    app.test_cli_runner().invoke(args=["roles", "revoke", STAFF, "staff"])
    assert browser.get(f"{live_server.url}/staff/", headers={"Accept": "text/html"}).status_code == 403


def test_assign_company_in_chat_notifies_the_advisor(app, chat, fake_line):
    _grant(app, STAFF, "staff")
    _grant(app, NEWBIE, "advisor")
    with app.extensions["bot"].database.session() as session:
        session.add(TeamMember(line_user_id=NEWBIE, display_name="林顧問"))
        company = Company(name="好味道小吃", tax_id="12345675")
        session.add(company)
        session.flush()
        company_id = company.id
    staff = chat.as_user(STAFF)
    staff.follow()
    texts = staff.say("/指派 好味道")
    assert "指派給哪位顧問" in joined(texts)
    texts = staff.tap("林顧問")
    assert "已將「好味道小吃」指派給 林顧問" in joined(texts)
    with app.extensions["bot"].database.session() as session:
        assert session.get(Company, company_id).advisor_line_user_id == NEWBIE
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "company_assigned")).one()
    app.extensions["bot"].sender.deliver_due()
    assert eventually(lambda: any("新的輔導企業" in t for t in fake_line.texts_for(NEWBIE)))
    # A stranger tapping the same (forged) postback is refused.
    stranger = _followed(chat, STRANGER)
    texts = stranger.send("postback", data=f"c=staff_assign&arg=c{company_id}%3A{STRANGER}")
    assert "無法使用" in joined(texts)


def test_assign_by_tax_id_unassign_and_stale_buttons(app, chat):
    _grant(app, NEWBIE, "advisor")
    with app.extensions["bot"].database.session() as session:
        session.add(TeamMember(line_user_id=NEWBIE, display_name="林顧問"))
        company = Company(name="好味道小吃", tax_id="12345675", advisor_line_user_id=NEWBIE)
        session.add_all([company, Company(name="好味道麵店")])
        session.flush()
        company_id = company.id
    staff = _followed(chat, STAFF, "staff")
    texts = staff.say("/指派 好味道")  # two companies answer to the name: pick one
    assert "是哪一家" in joined(texts) and {"好味道小吃", "好味道麵店"} <= set(staff.labels())
    texts = staff.say("/指派 12345675")
    assert "要把「好味道小吃」指派給哪位顧問？（目前：林顧問）" in joined(texts)
    texts = staff.tap("取消指派")
    assert "已取消「好味道小吃」的顧問指派" in joined(texts)
    with app.extensions["bot"].database.session() as session:
        assert session.get(Company, company_id).advisor_line_user_id is None
    # The advisor's button, tapped after the advisor lost the role: nothing is assigned.
    staff.say("/指派 12345675")
    [button] = [a for a in staff.actions() if a.get("label") == "林顧問"]
    app.test_cli_runner().invoke(args=["roles", "revoke", NEWBIE, "advisor"])
    assert "目前還沒有顧問" in joined(staff.tap_action(button))
    # A button for a company that no longer exists.
    texts = staff.send("postback", data=f"c=staff_assign&arg=c{company_id + 100}%3A{NEWBIE}")
    assert f"找不到「{company_id + 100}」" in joined(texts)
    with app.extensions["bot"].database.session() as session:
        assert session.get(Company, company_id).advisor_line_user_id is None
