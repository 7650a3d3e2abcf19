"""First staff in one step and roles by name (issue 19): `roles invite` prints a code that binds in
chat (nobody looks up a LINE user id), names everywhere (`roles list`, 「/指派」, the dashboard),
and 「說明」 by role."""
from __future__ import annotations

import json
import re

import requests
from sqlmodel import select

from bot.models import RoleGrant
from companies.models import Company
from dialogs.registry import COMMANDS
from staff.models import TeamMember
from tests.conftest import STAFF_TOKEN, joined

NEWCOMER = "U" + "4" * 32
ADVISOR = "U" + "8" * 32


def invite(app, role: str, name: str) -> str:
    result = app.test_cli_runner().invoke(args=["roles", "invite", role, "--name", name])
    assert result.exit_code == 0, result.output
    assert "綁定 " in result.output and name in result.output
    return re.search(r"綁定 ([A-Z0-9]{4}-[A-Z0-9]{4})", result.output).group(1)


def test_first_staff_member_from_the_command_line_to_the_dashboard(app, chat):
    code = invite(app, "staff", "王小明")
    staff = chat.as_user(NEWCOMER)
    staff.follow()
    assert "綁定完成" in joined(staff.say(f"綁定 {code}"))
    listed = json.loads(app.test_cli_runner().invoke(args=["roles", "list", "--json"]).output)["roles"]
    assert [(r["name"], r["role"]) for r in listed] == [("王小明", "staff")]
    assert "王小明" in app.test_cli_runner().invoke(args=["roles", "list"]).output
    # The code is single use: a second person cannot become staff with it.
    other = chat.as_user("U" + "3" * 32)
    other.follow()
    assert "已經使用過" in joined(other.say(f"綁定 {code}"))
    # 「/登入」 opens the dashboard, which knows the person by name.
    staff.say("/登入")
    link = next(a["uri"] for a in staff.actions() if a.get("type") == "uri")
    browser = requests.Session()
    assert "login-button" in browser.get(link, timeout=5).text
    answer = browser.post(link, timeout=5)  # the page's 登入 button
    assert answer.status_code == 200 and "招募進度" in answer.text
    companies = browser.get(link.split("/staff/")[0] + "/staff/companies", timeout=5).text
    assert "王小明" in companies


def test_invite_needs_a_name_and_a_known_role(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["roles", "invite", "staff"]).exit_code != 0
    assert runner.invoke(args=["roles", "invite", "king", "--name", "王"]).exit_code != 0
    assert runner.invoke(args=["roles", "invite", "staff", "--name", "  "]).exit_code != 0
    payload = json.loads(runner.invoke(args=["roles", "invite", "advisor", "--name", "林顧問", "--json"]).output)
    assert payload["role"] == "advisor" and payload["send_in_chat"] == f"綁定 {payload['code']}"


def test_names_everywhere_assign_offers_names_not_ids(app, chat):
    runner = app.test_cli_runner()
    granted = runner.invoke(args=["roles", "grant", ADVISOR, "advisor", "--name", "陳顧問"])
    assert granted.exit_code == 0 and "陳顧問" in granted.output
    unnamed = runner.invoke(args=["roles", "grant", "U" + "2" * 32, "advisor"])
    assert "--name" in unnamed.output  # tells the operator how to name them
    with app.extensions["bot"].database.session() as session:
        session.add(RoleGrant(line_user_id=chat.user_id, role="staff", granted_by="test"))
        session.add(Company(name="好味道小吃", tax_id="12345675", verdict="eligible"))
    chat.follow()
    texts = chat.say("/指派 好味道")
    labels = chat.labels()
    assert "陳顧問" in labels and not any(label.startswith("…") for label in labels), labels
    assert "未命名" in joined(labels)  # the one granted without a name is not a bare id either
    assert "已將「好味道小吃」指派給 陳顧問" in joined(chat.tap("陳顧問"))
    page = requests.get(chat.server.url + "/staff/companies",
                        headers={"Authorization": f"Bearer {STAFF_TOKEN}", "Accept": "text/html"}, timeout=5).text
    shown = re.sub(r'value="[^"]*"', "", page)  # what the page shows (form values aside)
    assert "陳顧問" in shown and ADVISOR not in shown
    assert "顧問" in joined(texts)


def test_binding_without_a_name_takes_the_line_name(app, chat):
    from staff import service

    with app.extensions["bot"].database.session() as session:
        code, _ = service.create_invite(session, actor="test", role="advisor")
    chat.fake.profiles[chat.user_id] = {"displayName": "阿德"}
    chat.follow()
    assert "綁定完成" in joined(chat.say(f"綁定 {code}"))
    with app.extensions["bot"].database.session() as session:
        member = session.exec(select(TeamMember).where(TeamMember.line_user_id == chat.user_id)).first()
    assert member is not None and member.display_name == "阿德"


def test_help_answers_by_role(app, chat):
    chat.follow()
    owner = joined(chat.say("說明"))
    assert "歡迎加入" in owner and "/公告" not in owner
    assert "回報使用量" in owner and "我的活動" in owner  # the months after the letter too
    with app.extensions["bot"].database.session() as session:
        session.add(RoleGrant(line_user_id=chat.user_id, role="staff", granted_by="test"))
    staff_help = joined(chat.say("/help"))  # not an unanswered question any more
    assert "/公告" in staff_help and "例「/指派 12345675」" in staff_help and "歡迎加入" not in staff_help
    assert "/登入" in chat.labels()
    with app.extensions["bot"].database.session() as session:
        session.add(RoleGrant(line_user_id=chat.user_id, role="advisor", granted_by="test"))
    both = joined(chat.say("說明"))
    assert "/公告" in both and "登錄訪視" in both and "我的進度" in both
    # Every command a role may use is in that role's help, each with its first phrase.
    from bot.texts import t

    for command in COMMANDS:
        if command.role:
            help_text = t(f"staff.help_{command.role}")
            assert any(phrase in help_text for phrase in command.phrases), command.name
