"""Campaign setup (issue 19): `campaign check` on the shipped demo values, on a filled-in file and on
values against the programme rules; no letter signing in production while example values remain;
the 「範例」 mark on letters in development; the public verification page for letter PDFs."""
from __future__ import annotations

import io
import json
import re

import pytest
import requests
import yaml
from pypdf import PdfReader
from sqlmodel import select

from bot.models import Conversation, RoleGrant
from letters.models import Letter, LetterVersion
from tests.conftest import REPO, joined
from tests.test_letters_chat import agree_to_letter, owner_with_company, sign_in_chat, start_and_fill
from tests.test_letters_record import page_text

FILLED = REPO / "tests" / "fixtures" / "programs_filled.yaml"
FILLED_CAMPAIGN = {"gonghao-2023": {"demo": []}}  # what a unit's filled-in file amounts to


def check(app, *args: str):
    result = app.test_cli_runner().invoke(args=["campaign", "check", "--json", *args])
    return result.exit_code, json.loads(result.output)


def programme_report(payload: dict) -> dict:
    return next(p for p in payload["programs"] if p["program"] == "gonghao-2023")


def test_check_fails_on_the_shipped_demo_values_and_passes_on_a_filled_file(app):
    code, payload = check(app)
    assert code == 1 and payload["ok"] is False
    report = programme_report(payload)
    assert {f["key"] for f in report["demo"]} >= {"proposing_unit", "plan_name", "provider", "solution",
                                                  "usage_period", "track", "companies_planned"}
    # Staff read these as labels (「說明」, the dashboard's notice), never as the file's keys.
    assert all(f["label"] != f["key"] and re.search(r"[\u4e00-\u9fff]", f["label"]) for f in report["demo"]), \
        [f["key"] for f in report["demo"] if f["label"] == f["key"]]
    # The shipped usage period keeps to the programme (it is only a demo value, no conflict).
    assert report["conflicts"] == [] and report["missing"] == []
    code, payload = check(app, "--file", str(FILLED))
    assert code == 0 and payload["ok"] is True
    summary = app.test_cli_runner().invoke(args=["campaign", "check", "--file", str(FILLED)])
    assert summary.exit_code == 0 and "ready" in summary.output


def test_check_lists_values_against_the_programme_rules(app, tmp_path):
    data = yaml.safe_load(FILLED.read_text(encoding="utf-8"))
    campaign = data["programs"]["gonghao-2023"]["campaign"]
    campaign.update({"usage_period": "112/06/01–113/05/31",  # past the programme's end 112/11/30
                     "adoption_deadline": "112/08/31",        # 002: 導入 by 112/07/31
                     "letters_upload_deadline": "112/03/25 17:00",  # two days after 112/03/16
                     "proposal_deadline": "111/12/01 17:00",   # before the programme opens
                     "companies_planned": 120,                 # no tier of 數位普及 (50–100)
                     "track": "integration", "provider": "  "})
    campaign["solution"]["integration_services"] = ""  # 共融案 must describe them
    path = tmp_path / "programs.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, payload = check(app, "--file", str(path))
    report = programme_report(payload)
    assert code == 1
    assert {f["key"] for f in report["missing"]} == {"provider", "solution.integration_services"}
    conflicts = {(f["key"], f["message"]) for f in report["conflicts"]}
    keys = {key for key, _ in conflicts}
    assert keys == {"usage_period", "adoption_deadline", "letters_upload_deadline", "proposal_deadline",
                    "companies_planned"}, conflicts
    messages = joined([message for _, message in conflicts])
    for words in ("不可超過計畫期間", "112/11/30", "112/07/31", "2 日內", "不在計畫期間內", "30–40 家"):
        assert words in messages, words
    text = app.test_cli_runner().invoke(args=["campaign", "check", "--file", str(path)]).output
    assert "conflict  usage_period" in text and "missing   provider" in text


def test_production_does_not_offer_signing_on_example_values(app, chat, monkeypatch):
    owner_with_company(app, chat)
    monkeypatch.setitem(app.config, "BOT_ENV", "production")
    texts = chat.say("簽署合作意向書")
    assert "還沒開放" in joined(texts) and "個人資料" not in joined(texts)
    with app.extensions["bot"].database.session() as session:  # nothing started
        flow = session.exec(select(Conversation.flow).where(Conversation.line_user_id == chat.user_id)).first()
    assert flow is None
    staff = chat.as_user("U" + "5" * 32)
    staff.follow()
    with app.extensions["bot"].database.session() as session:
        session.add(RoleGrant(line_user_id=staff.user_id, role="staff", granted_by="test"))
    notice = joined(staff.say("說明"))
    assert "尚未開放簽署" in notice and "提案單位公司全名" in notice and "campaign check" in notice
    # Once the unit has filled in the campaign, signing is offered.
    monkeypatch.setitem(app.config, "LETTERS_CAMPAIGN_OVERRIDES", FILLED_CAMPAIGN)
    assert "個人資料" in joined(chat.say("簽署合作意向書"))


def test_development_letters_carry_the_example_mark(app, chat):
    owner_with_company(app, chat)
    start_and_fill(chat)
    assert "【範例】請確認意向書內容" in joined(chat.fake.texts_for(chat.user_id)[-1:])
    draft = requests.get(next(a["uri"] for a in chat.actions() if a.get("type") == "uri"), timeout=5).text
    assert "【範例】" in draft and "不具效力" in draft
    agree_to_letter(chat)
    sign_page = requests.get(next(a["uri"] for a in chat.actions() if a.get("type") == "uri"), timeout=5).text
    assert re.search(r'id="letter-title">【範例】', sign_page)
    texts = chat.say("王大明")
    assert "【範例】簽署完成" in joined(texts) and "雜湊" not in joined(texts)
    pdf_link = next(a["uri"] for a in chat.actions() if a.get("type") == "uri")
    pdf = PdfReader(io.BytesIO(requests.get(pdf_link, timeout=10).content))
    pages = [page_text(page) for page in pdf.pages]
    assert all("範例" in page for page in pages)  # every page, the certificate included
    assert "【範例】" in pages[0] and "不具效力" in pages[0]
    assert "flask" not in pages[-1] and "/letters/verify" in pages[-1]  # words and a link, no command
    with app.extensions["bot"].database.session() as session:
        version = session.exec(select(LetterVersion)).one()
        content = json.loads(version.canonical_json)
    assert content["campaign"]["demo"] and content["letter_text"].startswith("【範例】")
    status = joined(chat.say("我的意向書"))
    assert "雜湊" not in status and version.sha256[:12] not in status


def test_verification_page_checks_a_pdf_or_its_hash_without_showing_data(app, chat, live_server, monkeypatch):
    monkeypatch.setitem(app.config, "LETTERS_CAMPAIGN_OVERRIDES", FILLED_CAMPAIGN)
    owner_with_company(app, chat)
    sign_in_chat(chat)
    pdf_link = next(a["uri"] for a in chat.actions() if a.get("type") == "uri")
    pdf = requests.get(pdf_link, timeout=10).content
    assert "不具效力" not in page_text(PdfReader(io.BytesIO(pdf)).pages[0])  # a filled campaign: no mark
    url = f"{live_server.url}/letters/verify"
    assert "驗證企業合作意向書" in requests.get(url, timeout=5).text
    page = requests.post(url, files={"pdf": ("letter.pdf", pdf, "application/pdf")}, timeout=10).text
    assert 'data-kind="current"' in page and "有效" in page
    for private in ("小明商行", "04595257", "王大明", chat.user_id):
        assert private not in page
    with app.extensions["bot"].database.session() as session:
        version = session.exec(select(LetterVersion)).one()
        sha256 = version.sha256
    assert 'data-kind="current"' in requests.post(url, data={"sha256": sha256.upper()}, timeout=5).text
    assert 'data-kind="unknown"' in requests.post(url, data={"sha256": "0" * 64}, timeout=5).text
    bad = requests.post(url, files={"pdf": ("x.pdf", b"not a pdf", "application/pdf")}, timeout=5)
    assert bad.status_code == 422 and "不是本計畫產生" in bad.text
    assert requests.post(url, data={"sha256": "abc"}, timeout=5).status_code == 422
    # A withdrawn letter is reported as such; a record changed behind the chain's back as damaged.
    monkeypatch.setitem(app.config, "LETTERS_CAMPAIGN_OVERRIDES",
                        {"gonghao-2023": {"demo": [], "proposal_deadline": "200/01/01"}})
    chat.say("撤回意向書")
    assert "已撤回" in joined(chat.tap("確定撤回意向書"))
    assert 'data-kind="withdrawn"' in requests.post(url, data={"sha256": sha256}, timeout=5).text
    with app.extensions["bot"].database.session() as session:
        letter = session.exec(select(Letter)).one()
        letter.head_hash = "0" * 64
    assert 'data-kind="damaged"' in requests.post(url, data={"sha256": sha256}, timeout=5).text


@pytest.mark.parametrize("value", ["112/06/01–112/11/30", "112/6/1 ~ 112/11/30", "112/06/01至112/11/30"])
def test_usage_period_formats_are_read(value):
    from campaign.service import check_programme

    data = yaml.safe_load(FILLED.read_text(encoding="utf-8"))["programs"]["gonghao-2023"]
    data["campaign"]["usage_period"] = value
    assert check_programme("gonghao-2023", data).ok
