"""Custom KPIs (自訂績效指標): the owner's baseline and monthly figures in chat, in words (「大約 3 萬」
「兩百多」) with every bad input (unreadable, negative, too big, a sticker, 上一步, a stale button),
the summary showing how each answer was read, corrections; 「和上次一樣」 the month after; the
monthly ask once per owner (quiet hours, already reported); the advisors' 「績效趨勢」; the
dashboard's trend page in Chromium."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import requests

from sqlmodel import select

from bot.timeutil import TAIPEI
from kpis import service
from kpis.models import KpiFigure
from scheduler.scheduled import tick
from tests.conftest import STAFF_TOKEN, joined
from tests.test_activities import ADVISOR, person, signed_company, uid


def _owner(app, n: int = 1) -> int:
    with app.extensions["bot"].database.session() as session:
        if n == 1:
            person(session, ADVISOR, role="advisor")
        person(session, uid(n))
        return signed_company(session, n, owner=uid(n)).id


def _figures(app) -> dict:
    with app.extensions["bot"].database.session() as session:
        return {(r.indicator, r.period): (r.value, r.approximate, r.said)
                for r in session.exec(select(KpiFigure)).all()}


def test_baseline_and_month_in_words_with_bad_inputs(app, chat):
    company_id = _owner(app)
    owner = chat.as_user(uid(1))
    first = joined(owner.say("回報績效"))
    assert "共 12 題" in first and "先補上參加計畫前的數字" in first
    assert "（1/12）參加計畫前，您的店一個月營業額大約多少錢？" in first
    assert owner.labels()[0] == "不知道，略過"
    assert "看不懂這個數字" in joined(owner.say("很多"))
    assert "不會是負數" in joined(owner.say("-5"))
    for change in ("營業額多了兩成", "成長20%"):  # a change, not the figure: asked for the figure itself
        assert "請直接告訴我營業額大約是多少元" in joined(owner.say(change))
    assert "太大了" in joined(owner.say("3000億"))
    assert "（1/12）" in joined(owner.send("sticker"))
    assert "（2/12）" in joined(owner.say("大約 3 萬"))
    assert "（1/12）" in joined(owner.say("上一步"))
    owner.say("大約3萬")
    stale = owner.actions()[0]
    owner.say("兩百多")  # 來客數
    assert "過期" in joined(owner.tap_action(stale))
    owner.say("1200")  # 會員
    owner.say("2分鐘")  # 結帳時間: 120 秒
    owner.tap("不知道，略過")  # LINE 好友
    owner.say("三十五")  # 評論
    # Last month's figures
    month = joined(owner.say("3.5萬"))
    assert "（8/12）" in month
    for answer in ("三百", "1,350", "90秒", "兩百五", "四十"):
        texts = owner.say(answer)
    summary = joined(texts)
    assert "請確認您回報的數字" in summary and "營業額（參加前）" in summary and "約 30,000 元" in summary
    assert "約 200 人次" in summary and "120 秒" in summary and "略過" in summary
    # Change one answer from the summary, then confirm.
    owner.tap("營業額（參加前）")
    assert "約 28,000 元" in joined(owner.say("兩萬八左右"))
    done = joined(owner.tap("確認"))
    assert "已記下" in done and "營業額：參加前 約 28,000 元" in done and "多了 7,000" in done
    figures = _figures(app)
    period = service.previous_period(datetime.now(TAIPEI))
    assert figures[("sales", "baseline")] == (28000, True, "兩萬八左右")
    assert figures[("visitors", "baseline")] == (200, True, "兩百多")
    assert figures[("service_time", "baseline")] == (120, False, "2分鐘")
    assert ("line_friends", "baseline") not in figures  # skipped
    assert figures[("sales", period)] == (35000, False, "3.5萬")
    assert figures[("service_time", period)] == (90, False, "90秒")
    # The skipped baseline is asked again next time (growth needs it); 「修改績效」 asks the month again.
    missing = joined(owner.say("回報績效"))
    assert "（1/1）參加計畫前，LINE 官方帳號有幾位好友" in missing
    owner.say("0")
    owner.tap("確認")
    assert "都已經回報了" in joined(owner.say("回報績效"))
    assert "（1/6）" in joined(owner.say("修改績效"))
    # Someone who speaks for no company.
    with app.extensions["bot"].database.session() as session:
        person(session, uid(9))
    assert "找不到您能回報的店家" in joined(chat.as_user(uid(9)).say("回報績效"))
    assert company_id


def test_next_month_same_as_last_the_monthly_ask_and_the_advisors_trend(app, chat, fake_line):
    company_id = _owner(app)
    _owner(app, 2)
    with app.extensions["bot"].database.session() as session:
        for indicator, before, may in (("sales", 30000, 32000), ("visitors", 500, 520), ("members", 100, 130),
                                       ("service_time", 120, 100), ("line_friends", 0, 80), ("reviews", 10, 12)):
            service.record(session, company_id=company_id, program_id="gonghao-2023", indicator=indicator,
                           period="baseline", value=before, approximate=False, said="", reported_by=uid(1))
            service.record(session, company_id=company_id, program_id="gonghao-2023", indicator=indicator,
                           period="2023-05", value=may, approximate=False, said="", reported_by=uid(1))
    # The monthly ask for June (programs.yaml kpi_report: day 8, offsets 5d/1d -> 07/03 09:00), first
    # seen by a tick in quiet hours (held until morning), then sent once however many ticks follow.
    tick(app, now=datetime(2023, 7, 3, 21, 30, tzinfo=TAIPEI))
    assert not [t for t in fake_line.texts_for(uid(1)) if "回報112/06的經營數字" in t]
    tick(app, now=datetime(2023, 7, 4, 8, 5, tzinfo=TAIPEI))
    tick(app, now=datetime(2023, 7, 4, 8, 10, tzinfo=TAIPEI))
    asks = [t for t in fake_line.texts_for(uid(1)) if "回報112/06的經營數字" in t]
    assert len(asks) == 1 and len([t for t in fake_line.texts_for(uid(2)) if "回報112/06的經營數字" in t]) == 1
    message = next(m for m in fake_line.messages_for(uid(1)) if "112/06" in m.get("text", ""))
    button = message["quickReply"]["items"][0]["action"]
    owner = chat.as_user(uid(1))
    first = joined(owner.tap_action(button))
    assert "112/06" in first and "（1/6）" in first  # the baseline is not asked again
    assert owner.labels()[:2] == ["和上次一樣", "不知道，略過"]
    for _ in range(6):
        texts = owner.tap("和上次一樣")
    assert "32,000 元" in joined(texts)
    owner.tap("確認")
    assert _figures(app)[("sales", "2023-06")] == (32000, False, "和上次一樣")
    # The 7/07 reminder goes only to the owner who has not reported June yet.
    tick(app, now=datetime(2023, 7, 7, 9, 0, tzinfo=TAIPEI))
    assert len([t for t in fake_line.texts_for(uid(1)) if "回報112/06的經營數字" in t]) == 1
    assert len([t for t in fake_line.texts_for(uid(2)) if "回報112/06的經營數字" in t]) == 2
    # The advisor's trend: totals over their companies and each company's figures.
    trend = joined(chat.as_user(ADVISOR).say("績效趨勢"))
    assert "營運面：帶動店家銷售額成長（千元）：2（目標 600 千元）" in trend
    assert "流程面：結帳服務時間縮短（秒）：20（目標 30 秒）" in trend
    assert "店1：營業額 30,000→32,000" in trend and "店2：還沒回報" in trend
    # An owner asking for the advisors' trend gets no one else's figures.
    assert "店2" not in joined(owner.say("績效趨勢"))


BROWSER = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not Path(BROWSER).exists(), reason="needs /usr/bin/chromium")
def test_trend_page_on_a_phone(app, live_server):
    """The seeded campaign's figures on /staff/kpis at 390 px: totals, month by month, per company,
    one advisor's companies, the check-up levels; the JSON gives the same."""
    from playwright.sync_api import sync_playwright

    from staff import service as staff_service
    from tests.seed_campaign import A2, STAFF, seed

    ids = seed(app)
    with app.extensions["bot"].database.session() as session:
        token = staff_service.create_login_token(session, line_user_id=STAFF)
    assert requests.get(f"{live_server.url}/staff/api/kpis").status_code == 403
    api = requests.get(f"{live_server.url}/staff/api/kpis", headers={"Authorization": f"Bearer {STAFF_TOKEN}"}).json()
    sales = next(i for i in api["indicators"] if i["id"] == "sales")
    assert (sales["done"], sales["target"], sales["unit"], sales["reported"]) == (150, 600, "千元", 15)
    assert [(p["label"], p["value"]) for p in sales["by_month"]] == [("112/05", 100), ("112/06", 150)]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        page.goto(f"{live_server.url}/staff/login/{token}")
        page.click("#login-button")
        page.click("text=自訂績效")
        page.wait_for_selector(".kpi-trend")
        assert page.locator(".kpi-trend").count() == 6
        card = page.locator("[data-indicator=sales]")
        assert "150 / 600 千元" in card.inner_text() and "15 家回報" in card.inner_text()
        assert card.locator(".month-value").all_inner_texts() == ["100", "150"]
        assert card.locator("h2").inner_text() == "營運面：帶動店家銷售額成長（千元）"
        card.locator("summary").click()  # each company's figures fold away on a phone
        first = card.locator(f"tr[data-company='{ids[1]}']")
        assert "30,000" in first.inner_text() and "45,000" in first.inner_text()
        assert first.locator(".contribution").inner_text() == "15"
        assert page.locator(f"#checkup-levels tr[data-company='{ids[1]}'] .checkup-level").inner_text() == "第 2 級 → 第 3 級"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.select_option("#advisor-filter select", A2)  # companies 31–60: none reported
        page.click("#advisor-apply")
        page.wait_for_url("**advisor=*")
        page.locator("[data-indicator=sales] summary").click()
        assert "還沒有店家回報" in page.locator("[data-indicator=sales]").inner_text()
        browser.close()


def test_a_figure_typed_out_of_the_blue_starts_the_report_with_it(app, chat):
    """「上個月營業額8萬多」 typed outside the report is last month's figure: the report starts with it
    filled in (the FAQ explained what custom KPIs are and the figure was lost); a change 「來客多了兩成」
    asks for the figure; a question with a figure stays the FAQ's; people who report nothing get the FAQ."""
    _owner(app)
    owner = chat.as_user(uid(1))
    texts = joined(owner.say("上個月營業額8萬多"))
    assert "先幫您填上" in texts and "營業額：約 80,000 元" in texts and "（1/12）" in texts
    for _ in range(6):
        owner.tap("不知道，略過")
    for _ in range(5):
        texts = owner.say("100")
    assert "請確認您回報的數字" in joined(texts)
    owner.tap("確認")
    period = service.previous_period(datetime.now(TAIPEI))
    assert _figures(app)[("sales", period)] == (80000, True, "上個月營業額8萬多")
    assert "問到來客數時" in joined(chat.as_user(uid(1)).say("來客多了兩成"))
    owner.say("取消")
    assert "先幫您填上" not in joined(owner.say("營業額100萬可以申請嗎"))
    with app.extensions["bot"].database.session() as session:
        person(session, uid(9))
    assert "先幫您填上" not in joined(chat.as_user(uid(9)).say("這個月來客大概300"))
