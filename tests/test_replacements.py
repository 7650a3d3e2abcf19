"""抽換: the 50 % rule checked before anything changes (chat and dashboard), the successor chased
for its letter until it signs, and who may do it."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import requests
from sqlmodel import select

from bot.models import RoleGrant, User
from bot.timeutil import TAIPEI
from companies.models import Company, CompanyMember
from letters import document as doc
from letters import service as letters
from replacements.models import Replacement
from scheduler.models import Reminder
from tests.conftest import STAFF_TOKEN, eventually, joined

STAFF = "U" + "5" * 32
SUCCESSOR_OWNER = "U" + "7" * 32
BEARER = {"Authorization": f"Bearer {STAFF_TOKEN}", "Accept": "text/html"}
FIELDS = {"registration": "registered", "employees": 3, "contact_name": "王小明", "mobile": "0912345678",
          "phone": "02-2345-6789", "email": "shop@example.com", "address": "臺北市大同區承德路二段239號",
          "representative": "王大明"}


def _setup(app) -> dict[str, int]:
    """Four companies whose letters went in with the proposal, one successor without a letter."""
    ids = {}
    campaign = doc.campaign_settings(app.config, "gonghao-2023")
    with app.extensions["bot"].database.write_session() as session:
        session.add(RoleGrant(line_user_id=STAFF, role="staff", granted_by="test"))
        session.add(User(line_user_id=SUCCESSOR_OWNER))
        for n, name in enumerate(("甲店", "乙店", "丙店", "丁店", "接替小店"), start=1):
            company = Company(name=name, tax_id=f"{80000000 + n}", verdict="eligible", advisor_line_user_id=None)
            session.add(company)
            session.flush()
            member = SUCCESSOR_OWNER if name == "接替小店" else f"U{n:032d}"
            session.add(CompanyMember(company_id=company.id, line_user_id=member, role="owner"))
            ids[name] = company.id
            if name != "接替小店":
                letters.sign_letter(session, company=company, line_user_id=member, display_name=None,
                                    fields={**FIELDS, "company_name": name, "tax_id": company.tax_id},
                                    campaign=campaign, signature=letters.Signature(signed_name="王大明"),
                                    consent_sha256=doc.consent_sha256(),
                                    now=datetime(2023, 3, 10, 10, tzinfo=TAIPEI))
    return ids


def _status(app, company_id: int) -> str:
    with app.extensions["bot"].database.session() as session:
        return session.get(Company, company_id).status


def _replacements(app) -> list[Replacement]:
    with app.extensions["bot"].database.session() as session:
        return list(session.exec(select(Replacement).order_by(Replacement.id)).all())


def test_replace_in_chat_within_the_limit_and_chase_the_successor(app, chat, fake_line):
    ids = _setup(app)
    staff, successor = chat.as_user(STAFF), chat.as_user(SUCCESSOR_OWNER)
    staff.follow()
    successor.follow()
    assert "原因" in joined(staff.say("/抽換 甲店"))
    staff.tap("歇業")
    assert "由哪一家接替" in joined(staff.say("甲店"))  # not itself: asked again
    texts = joined(staff.say("接替小店"))
    assert "請確認抽換" in texts and "接替小店" in texts
    texts = joined(staff.tap("確認"))
    assert "已抽換" in texts and "入案後抽換 1 / 4 家（25%），上限 50%" in texts and "3 天、7 天後再提醒" in texts
    assert _status(app, ids["甲店"]) == "replaced"
    sender = app.extensions["bot"].sender
    assert eventually(lambda: sender.deliver_due() is not None and any(
        "已加入數位共好計畫的輔導名單" in t for t in fake_line.texts_for(SUCCESSOR_OWNER)))

    # Reminders to sign, re-checked when due: sent while unsigned, dropped once signed.
    with app.extensions["bot"].database.session() as session:
        due = sorted(r.due_at for r in session.exec(select(Reminder).where(Reminder.kind == "personal")).all())
    assert len(due) == 2
    before = len(fake_line.texts_for(SUCCESSOR_OWNER))
    result = app.test_cli_runner().invoke(args=["tick", "--now", due[0].isoformat(), "--json"])
    assert json.loads(result.output)["materialised"] == 1
    assert "合作意向書還沒簽署" in fake_line.texts_for(SUCCESSOR_OWNER)[before]
    with app.extensions["bot"].database.write_session() as session:
        session.get(Company, ids["接替小店"]).letter_status = "signed"
    app.test_cli_runner().invoke(args=["tick", "--now", due[1].isoformat(), "--json"])
    assert len(fake_line.texts_for(SUCCESSOR_OWNER)) == before + 1

    # 2 of 4 is still within 50 %; a third would be 75 %: refused, nothing changed.
    staff.say("/抽換 乙店")
    staff.tap("聯絡不上")
    staff.tap("還沒有")
    assert "入案後抽換 2 / 4 家（50%）" in joined(staff.tap("確認"))
    staff.say("/抽換 丙店")
    staff.tap("不想參加了")
    staff.tap("還沒有")
    texts = joined(staff.tap("確認"))
    assert "無法抽換：抽換後會是 3 / 4 家（75%），超過入案後抽換上限 50%" in texts
    assert _status(app, ids["丙店"]) == "active" and len(_replacements(app)) == 2


def test_only_staff_replace_and_the_dashboard_checks_the_limit(app, chat, live_server):
    ids = _setup(app)
    owner = chat.as_user("U" + "1".zfill(32))
    owner.follow()
    assert "無法使用" in joined(owner.say("/抽換 甲店"))
    assert _status(app, ids["甲店"]) == "active"

    url = f"{live_server.url}/staff/replacements"
    assert requests.get(url).status_code == 403
    page = requests.get(url, headers=BEARER)
    assert page.status_code == 200 and "0 / 4 家" in page.text
    for name in ("甲店", "乙店"):
        response = requests.post(url, headers=BEARER, allow_redirects=False,
                                 data={"company_id": ids[name], "reason": "歇業", "successor_id": ""})
        assert response.status_code == 302
    over = requests.post(url, headers=BEARER, data={"company_id": ids["丙店"], "reason": "other",
                                                    "other_reason": "老闆退休", "successor_id": ids["接替小店"]})
    assert over.status_code == 422 and "超過入案後抽換上限 50%" in over.text
    same = requests.post(url, headers=BEARER, data={"company_id": ids["丁店"], "reason": "歇業",
                                                    "successor_id": ids["丁店"]})
    assert same.status_code == 422 and "不能用" in same.text
    again = requests.post(url, headers=BEARER, data={"company_id": ids["甲店"], "reason": "歇業"})
    assert again.status_code == 422 and "不用再抽換" in again.text
    assert [r.company_id for r in _replacements(app)] == [ids["甲店"], ids["乙店"]]
    assert _status(app, ids["丙店"]) == "active" and _status(app, ids["丁店"]) == "active"
    summary = requests.get(f"{live_server.url}/staff/summary", headers={"Authorization": BEARER["Authorization"]}).json()
    assert summary["replacements"]["count"] == 2 and summary["replacements"]["within_limit"]
    assert "50%" in requests.get(url, headers=BEARER).text


def test_a_replacement_without_a_proposal_letter_is_not_counted(app):
    from replacements import service

    ids = _setup(app)
    campaign = doc.campaign_settings(app.config, "gonghao-2023")
    with app.extensions["bot"].database.write_session() as session:
        late = Company(name="入案後才加入", tax_id="89999999", verdict="eligible")
        session.add(late)
        session.flush()
        row, check = service.replace_company(session, company_id=late.id, reason="歇業", successor_id=None,
                                             actor=STAFF, campaign=campaign, now=datetime.now(TAIPEI) - timedelta(1))
    assert not row.counted and check.after == 0 and _status(app, ids["甲店"]) == "active"
