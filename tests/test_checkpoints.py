"""Checkpoints on a seeded campaign of 60 companies (tests/seed_campaign.py): the KPI JSON from the
CLI and the API, the evidence pack's files and figures, the digests and reminders the scheduler
sends before the adoption deadline and each checkpoint, and the dashboard page."""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import openpyxl
import pytest
import requests
from pypdf import PdfReader
from sqlmodel import select

from bot.models import AuditEntry
from checkpoints.metrics import METRICS, MetricResult, register_metric
from tests.conftest import STAFF_TOKEN
from tests.seed_campaign import A1, A2, STAFF, owner, seed

BEARER = {"Authorization": f"Bearer {STAFF_TOKEN}"}


def cli(app, *args) -> dict:
    result = app.test_cli_runner().invoke(args=[*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def figures(payload: dict) -> dict:
    return {k["id"]: (k["done"], k["due"], k["status"]) for k in payload["kpis"]}


# Custom KPIs as of 112/07/01 (tests/seed_campaign.py): companies 1–10's May against their baseline
# (June's figures came on 7/03); 11–15 gave a baseline only, 55 was replaced. 營業額 (10 × 10,000 元 =
# 100 千元), 來客 10 × 50, 會員 10 × 50, 結帳時間 the mean 30 秒 shorter (the whole target), LINE 好友 the
# latest 10 × 50, 評論 10 × 5; due 35 % of each target.
CUSTOM = {"custom_sales": (100, 210, "behind"), "custom_visitors": (500, 630, "behind"),
          "custom_members": (500, 420, "on_track"), "custom_service_time": (30, 11, "done"),
          "custom_line_friends": (500, 1050, "behind"), "custom_reviews": (50, 105, "behind")}
# Issue 21's rooms (activities, assessments) as of 112/07/01: 5/20 and 6/17 held (21 + 10 人次, the
# walk-in without a company counted), the 6/24 one cancelled, the 成果展示 on 7/08 still to come; the 前測
# due in full at checkpoint 1 (1–50 done), the 後測 not before checkpoint 2.
ISSUE_21 = {"activities": (2, 2, "on_track"), "attendance": (31, 32, "behind"), "showcase": (0, 1, "behind"),
            "pretest": (50, 60, "behind"), "posttest": (0, 0, "on_track")}


def test_checkpoint_kpis_of_a_seeded_campaign(app, live_server):
    ids = seed(app)
    payload = cli(app, "checkpoints", "--as-of", "2023-07-01T09:00")
    assert payload["next_checkpoint"] == {"number": 1, "at": "2023-07-15T17:00:00+08:00", "at_roc": "112/07/15 17:00",
                                          "share": 0.35, "days_left": 14, "passed": False}
    # 帶動 and 導入 are due in full at the first checkpoint (programs.yaml); the rest 35 % of 60 = 21.
    assert figures(payload) == {
        "companies": (54, 60, "behind"), "adoption": (40, 60, "behind"), "usage": (30, 21, "on_track"),
        "visits": (25, 21, "on_track"), "visits_onsite": (26, 21, "on_track"), **ISSUE_21, **CUSTOM}
    adoption = next(k for k in payload["kpis"] if k["id"] == "adoption")
    assert adoption["missing"] == 20 and adoption["detail"] == "4 家等店家確認"
    assert adoption["due_by_checkpoint"] == {"1": 60, "2": 60} and adoption["label"] == "導入雲端服務解決方案家數"
    assert payload["totals"] == {"done": 1, "on_track": 6, "behind": 9, "not_tracked": 0}
    sales = next(k for k in payload["kpis"] if k["id"] == "custom_sales")
    assert sales["detail"] == "15 家回報、10 家可計算" and sales["metric"] == "custom.sales"
    rows = {row["id"]: row for row in payload["companies"]}
    assert len(rows) == 54 and ids[55] not in rows  # replaced, no longer counted
    assert sum(1 for row in rows.values() if not row["missing"]) == 20  # 1–20 have everything
    assert rows[ids[21]]["missing"] == ["visits_onsite"] and rows[ids[21]]["advisor"].startswith("…")
    assert rows[ids[45]]["kpis"] == {"adoption": False, "usage": False, "visits": False, "visits_onsite": False,
                                     "pretest": True}
    assert rows[ids[51]]["missing"] == ["adoption", "usage", "visits", "visits_onsite", "pretest"]

    # A metric registered later (issue 21's custom KPIs) is counted, no longer "not tracked".
    before = METRICS.get("custom.sales")
    register_metric("custom.sales", lambda session, *, program, as_of: MetricResult(done=250, detail="3 家"))
    try:
        later = figures(cli(app, "checkpoints", "--as-of", "2023-07-01T09:00"))
        assert later["custom_sales"] == (250, 210, "on_track")
    finally:
        METRICS.pop("custom.sales")
        if before is not None:
            METRICS["custom.sales"] = before

    # A KPI whose metric nobody provides is "not tracked yet", never 0 (JSON, the summary, the digest's word).
    showcase = METRICS.pop("showcase.sessions")
    try:
        untracked = cli(app, "checkpoints", "--as-of", "2023-07-01T09:00")
        line = next(k for k in untracked["kpis"] if k["id"] == "showcase")
        assert (line["done"], line["missing"], line["status"]) == (None, None, "not_tracked")
        assert untracked["totals"]["not_tracked"] == 1
        human = app.test_cli_runner().invoke(args=["checkpoints", "--as-of", "2023-07-01T09:00"]).output
        assert "成果展示交流活動場次: — / 1 場, due 1 — not tracked yet" in human
    finally:
        METRICS["showcase.sessions"] = showcase

    # The dashboard's funnel counts the owner-confirmed adoptions (41), no longer nothing.
    summary = requests.get(f"{live_server.url}/staff/api/summary", headers=BEARER).json()
    assert {bar["label"]: bar["value"] for bar in summary["funnel"]}["完成工具導入"] == 41

    # The API gives the same JSON (as of now: every checkpoint passed, the whole target due).
    assert requests.get(f"{live_server.url}/staff/api/checkpoints").status_code == 403
    api = requests.get(f"{live_server.url}/staff/api/checkpoints", headers=BEARER).json()
    assert api["next_checkpoint"] is None
    assert figures(api)["adoption"] == (41, 60, "behind") and figures(api)["visits"] == (26, 60, "behind")
    assert set(api) == set(payload)


def _sheet(archive: zipfile.ZipFile, name: str, sheet: int | str = 0) -> list[list]:
    path = next(n for n in archive.namelist() if n.endswith(name))
    workbook = openpyxl.load_workbook(io.BytesIO(archive.read(path)))
    worksheet = workbook[sheet] if isinstance(sheet, str) else workbook.worksheets[sheet]
    return [[cell.value for cell in row] for row in worksheet.iter_rows()]


def test_evidence_pack_for_checkpoint_one(app, tmp_path):
    ids = seed(app)
    result = cli(app, "export", "evidence", "--checkpoint", "1", "--out", str(tmp_path))
    path = Path(result["path"])
    assert path.name == "evidence-gonghao-2023-checkpoint1-20230715.zip" and result["as_of"] == "2023-07-15T17:00:00+08:00"
    # As of 112/07/15: company 41's confirmation (7/10) counts, company 31's visit of 8/01 does not.
    # Custom KPIs with June's figures (reported 7/03): 10 × 15 千元, 10 × 100 人次, 10 × 80 會員, 40 秒
    # shorter, 10 × 70 好友, 10 × 10 評論; the check-ups' follow-ups (10/15) come after the checkpoint.
    assert result["counts"] == {"kpis": 16, "companies": 55, "visits": 82, "visit_photos": 1, "usage_reports": 40,
                                "usage_screenshots": 1, "letters": 55, "replacements": 1,
                                "activities": 3, "activity_checkins": 61,
                                "checkup": {"taken": 20, "compared": 0, "level_up": 0},
                                "custom_kpis": {"sales": 150, "visitors": 1000, "members": 800, "service_time": 40,
                                                "line_friends": 700, "reviews": 100}}
    archive = zipfile.ZipFile(path)
    names = archive.namelist()
    assert names[:3] == ["01_查核點績效指標.xlsx", "02_輔導企業清冊.xlsx", "03_輔導紀錄/001_第01號小店/20230510_1_1.jpg"]
    assert {"03_輔導紀錄/輔導紀錄.xlsx", "04_企業流量清冊.xlsx", "04_使用截圖/002_第02號小店/2023-05_1.jpg",
            "05_企業合作意向書.pdf", "06_抽換紀錄.xlsx", "07_活動簽到表.xlsx", "08_數位健檢.xlsx", "09_自訂績效指標.xlsx",
            "00_說明.txt"} <= set(names)
    assert archive.read("03_輔導紀錄/001_第01號小店/20230510_1_1.jpg").startswith(b"\xff\xd8\xff")

    kpis = {row[0]: row for row in _sheet(archive, "查核點績效指標.xlsx")[1:]}
    assert kpis["導入雲端服務解決方案家數"][2:7] == [60, 60, 60, 41, "落後"]
    assert kpis["達常態流量家數"][2:7] == [60, 21, 60, 25, "進度符合"]  # companies 1–5 fell below in June
    assert kpis["數位應用知能活動場次"][5:7] == [2, "進度符合"]  # 5/20 and 6/17 (6/24 cancelled)
    assert kpis["營運面：帶動店家銷售額成長（千元）"][5:7] == [150, "落後"]  # 35 % of 600 is 210
    assert kpis["流程面：結帳服務時間縮短（秒）"][5:7] == [40, "已達成"]
    custom = _sheet(archive, "自訂績效指標.xlsx")
    assert custom[0][:5] == ["面向", "指標", "單位", "全程目標", "目前達成"]
    assert custom[1][:7] == ["營運面", "營運面：帶動店家銷售額成長（千元）", "千元", 600, 150, 15, 10]
    per_company = _sheet(archive, "自訂績效指標.xlsx", "各店數字")
    assert per_company[0][5:8] == ["參加前", "112/05", "112/06"]
    assert per_company[1][:9] == ["營運面", "營業額", "元", "70000001", "第01號小店", 30000, 40000, 45000, "15"]
    assert len(_sheet(archive, "自訂績效指標.xlsx", "回報明細")) == 1 + 10 * 18 + 5 * 6
    checkups = _sheet(archive, "數位健檢.xlsx")
    assert checkups[1][:10] == [1, "70000001", "第01號小店", "112/05/10", 2, 10, None, None, None, None]
    assert checkups[21][3] == "尚未填寫"

    companies = _sheet(archive, "輔導企業清冊.xlsx")
    header, first = companies[0], dict(zip(companies[0], companies[1]))
    assert header[:6] == ["序號", "統一編號", "企業名稱", "縣市", "專案顧問", "輔導狀態"]
    assert first == {"序號": 1, "統一編號": "70000001", "企業名稱": "第01號小店", "縣市": "臺中市", "專案顧問": None,
                     "輔導狀態": "輔導中", "意向書狀態": "已簽署", "意向書簽署日": "112/03/10", "意向書版本": 1,
                     "導入工具（店家已確認）": "雲端 POS 收銀系統", "開始使用日": "112/06/15", "店家確認日": "112/06/20",
                     "等店家確認": None, "最近回報月份": "112/06", "最近每月開立電子發票張數": 20, "達常態流量": "否",
                     "訪視次數": 3, "現地訪視次數": 1, "抽換原因": None, "接替企業": None,
                     "知能活動人次": 2, "成果展示人次": 1, "前測完成": "112/06/05（店家回報）", "後測完成": None,
                     "數位健檢基準等級": 2, "數位健檢最新等級": None}
    replaced = dict(zip(header, companies[-1]))
    assert (replaced["企業名稱"], replaced["輔導狀態"], replaced["抽換原因"], replaced["接替企業"]) == (
        "第55號小店", "已抽換", "歇業", "第56號小店")
    assert len(companies) == 56

    summary = _sheet(archive, "輔導紀錄.xlsx", "總表")
    assert summary[1] == [1, "70000001", "第01號小店", 3, 1] and len(summary) == 56
    assert sum(row[3] for row in summary[1:]) == 82
    usage = _sheet(archive, "企業流量清冊.xlsx")
    assert usage[1] == [1, "70000001", "第01號小店", "112/05", 50, 30, "是", None, "112/06/05"]
    assert len(usage) == 41
    ratio = dict((row[0], row[1]) for row in _sheet(archive, "抽換紀錄.xlsx", "抽換比例")[1:])
    assert ratio == {"入案後抽換（計入）": 1, "提案時意向書": 55, "抽換比例": "2%", "上限": "50%", "符合規定": "是"}
    letters = PdfReader(io.BytesIO(archive.read("05_企業合作意向書.pdf")))
    assert [item.title for item in letters.outline][:2] == ["001 第01號小店", "002 第02號小店"]
    assert len(letters.outline) == 55
    readme = archive.read("00_說明.txt").decode("utf-8")
    assert "第1次查核點" in readme and "05_企業合作意向書.pdf" in readme
    with app.extensions["bot"].database.session() as session:
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "export_evidence")).all()
    assert (entry.actor, entry.target) == ("cli", "checkpoint:1")
    bad = app.test_cli_runner().invoke(args=["export", "evidence", "--checkpoint", "9", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "no checkpoint 9" in bad.output


def tick(app, when: str) -> dict:
    result = app.test_cli_runner().invoke(args=["tick", "--now", when, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_digests_the_adoption_reminder_and_the_monthly_usage_ask(app, fake_line):
    ids = seed(app)
    tick(app, "2023-07-01T09:00:00+08:00")  # 14 days before checkpoint 1
    [a1] = [t for t in fake_line.texts_for(A1) if "第一次查核點" in t]
    assert "112/07/15 17:00（還有 14 天）" in a1
    assert "・第21號小店：現地訪視\n" in a1 and "第01號小店" not in a1 and "第31號小店" not in a1
    [a2] = [t for t in fake_line.texts_for(A2) if "第一次查核點" in t]
    assert "・第45號小店：工具導入確認、每月使用量達標、訪視滿 3 次、現地訪視\n" in a2
    assert "・第51號小店：工具導入確認、每月使用量達標、訪視滿 3 次、現地訪視、數位能力評量前測\n" in a2
    [staff] = [t for t in fake_line.texts_for(STAFF) if "第一次查核點" in t]
    assert "・帶動企業家數 54/60 家" in staff and "・導入雲端服務解決方案家數 40/60 家" in staff
    assert "・營運面：帶動店家銷售額成長（千元） 100/210 千元" in staff  # issue 21's custom KPIs are tracked
    assert "達成或進度符合 7 項。" in staff and "尚未在系統追蹤" not in staff and "還缺項目的店家 34 / 54 家" in staff
    tick(app, "2023-07-02T09:00:00+08:00")
    for person in (A1, A2, STAFF):  # once only
        assert len([t for t in fake_line.texts_for(person) if "第一次查核點" in t]) == 1

    tick(app, "2023-07-05T09:00:00+08:00")  # June's figure, before the first checkpoint counts 常態流量
    asked = {n for n in range(1, 61) if any("請回報112/06的「每月開立電子發票張數」" in t for t in fake_line.texts_for(owner(n)))}
    assert asked == set(range(6, 42))  # the adopted ones (the seed holds 41's confirmation); 1–5 reported June

    tick(app, "2023-07-12T09:00:00+08:00")  # 3 days before: what is still missing, again
    [_, a2] = [t for t in fake_line.texts_for(A2) if t.startswith("⏰ 第一次查核點")]
    assert "（還有 3 天）" in a2 and "・第51號小店：" in a2
    assert len([t for t in fake_line.texts_for(STAFF) if t.startswith("⏰ 第一次查核點")]) == 2

    tick(app, "2023-07-24T09:00:00+08:00")  # 7 days before the adoption deadline (112/07/31)
    deadline = {n for n in range(1, 61) if any("雲工具完成導入期限" in t for t in fake_line.texts_for(owner(n)))}
    assert deadline == set(range(42, 55))  # signed, active, not adopted: 42–54 (41 confirmed on 7/10)
    [a2] = [t for t in fake_line.texts_for(A2) if "還沒完成工具導入" in t]
    assert "・第42號小店（等店家確認）" in a2 and "・第54號小店\n" in a2 and "第41號小店" not in a2
    assert not [t for t in fake_line.texts_for(A1) if "還沒完成工具導入" in t]  # all of A1's adopted
    assert [t for t in fake_line.texts_for(STAFF) if "已完成導入 41 / 54 家" in t]

    tick(app, "2023-08-05T09:00:00+08:00")  # July's figure: every adopted company is asked once
    asked = {n for n in range(1, 61) if any("請回報112/07的「每月開立電子發票張數」" in t for t in fake_line.texts_for(owner(n)))}
    assert asked == set(range(1, 42))
    button = next(m for m in fake_line.messages_for(owner(7)) if "請回報112/07" in m.get("text", ""))
    assert button["quickReply"]["items"][0]["action"]["data"] == f"c=usage_report&arg={ids[7]}%3A2023-07"


BROWSER = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/dashboard-screens"))


@pytest.mark.browser
@pytest.mark.skipif(not Path(BROWSER).exists(), reason="needs /usr/bin/chromium")
def test_checkpoint_page_on_a_phone(app, live_server):
    from playwright.sync_api import sync_playwright

    from staff import service as staff_service

    seed(app)
    with app.extensions["bot"].database.session() as session:
        token = staff_service.create_login_token(session, line_user_id=STAFF)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        page.goto(f"{live_server.url}/staff/login/{token}")
        page.click("#login-button")
        page.click("text=查核點")
        page.wait_for_selector("#kpis")
        assert page.locator("#kpis .kpi").count() == 16
        assert page.locator("#kpis .kpi-bar").count() == 16  # every KPI tracked (issue 21's custom KPIs too)
        assert "150 / 600 千元" in page.inner_text("[data-kpi=custom_sales]")
        assert "41 / 60 家" in page.inner_text("[data-kpi=adoption]")
        assert page.locator("#company-kpis tbody tr").count() == 54
        assert "所有查核點都已過" in page.inner_text("#next-checkpoint")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "checkpoints-phone.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#evidence-1")
        assert download.value.suggested_filename == "evidence-gonghao-2023-checkpoint1-20230715.zip"
        browser.close()


def test_staff_see_the_checkpoint_kpis_and_get_the_evidence_pack_in_chat(app, chat, live_server):
    # 「/查核點」「查核點進度」 got the programme document's dates from the FAQ, not the unit's figures,
    # and there was no way to the evidence pack from chat.
    import requests

    from checkpoints import service as checkpoint_service
    from checkpoints.settings import programme
    from tests.conftest import joined
    from tests.seed_campaign import STAFF

    seed(app)
    staff = chat.as_user(STAFF)
    staff.follow()
    text = joined(staff.say("/查核點"))
    with app.extensions["bot"].database.session() as session:
        report = checkpoint_service.report(session, program=programme(app.config))
    adoption = next(k for k in report["kpis"] if k["id"] == "adoption")
    assert f"{adoption['done']}/{adoption['target']} 家" in text
    behind = [row for row in report["companies"] if row["missing"]]
    assert f"還缺項目的店家 {len(behind)} / {len(report['companies'])} 家" in text
    assert f"・{behind[0]['name']}（" in text
    [page] = [a for a in staff.actions() if a.get("type") == "uri"]
    browser = requests.Session()
    landed = browser.post(page["uri"], allow_redirects=False)
    assert landed.status_code == 302 and landed.headers["Location"].endswith("/staff/checkpoints")
    assert "下載第 1 次佐證資料" in browser.get(live_server.url + "/staff/checkpoints").text
    # Typed without the 「/」: offered, not a ticket; the pack's link downloads the zip.
    assert staff.labels() and "「/」" in joined(staff.say("匯出佐證資料"))
    text = joined(staff.tap("/匯出佐證資料"))
    assert "第 2 次查核點" in text  # all have passed: the last one
    # The year is no part of the checkpoint's number (「112年第1次」 looked up checkpoint 1121).
    assert "第 1 次查核點" in joined(staff.say("/佐證資料 112年第一次"))
    staff.say("/佐證資料 1")
    download = next(a for a in staff.actions() if a.get("type") == "uri" and "下載" in a["label"])
    browser = requests.Session()
    pack = browser.post(download["uri"])
    assert pack.status_code == 200 and pack.headers["Content-Type"] == "application/zip"
    # A login link leads only to the dashboard's own pages.
    staff.say("/登入")
    [login] = [a for a in staff.actions() if a.get("type") == "uri"]
    elsewhere = requests.Session().post(login["uri"] + "?next=https://evil.example/", allow_redirects=False)
    assert elsewhere.headers["Location"].endswith("/staff/")
    # An owner learns nothing.
    owner = chat.as_user("U" + "0" * 31 + "1")
    assert "無法使用" in joined(owner.say("/查核點")) and "/佐證資料" not in joined(owner.say("/佐證資料"))
