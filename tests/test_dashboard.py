"""The /staff dashboard: access control, figures, CSV, assignment and broadcasts from the browser
(plain HTTP), and a headless-Chromium pass at phone size (Playwright)."""
from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from sqlmodel import select

from bot.db import utc_now
from bot.models import AuditEntry, OutboundMessage, RoleGrant, User
from companies.models import Company, CompanyMember
from knowledge.models import UnansweredQuestion
from staff import service as staff_service
from staff.models import TeamMember
from tests.conftest import STAFF_TOKEN, eventually
from visits.models import Visit

STAFF = "U" + "5" * 32
ADVISOR = "U" + "d" * 32
BEARER = {"Authorization": f"Bearer {STAFF_TOKEN}", "Accept": "text/html"}
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/dashboard-screens"))


def _programme(app) -> dict[str, int]:
    """Three companies, followers, one signed letter, visits for one company (meets the rule)."""
    ids = {}
    with app.extensions["bot"].database.session() as session:
        session.add(RoleGrant(line_user_id=STAFF, role="staff", granted_by="test"))
        session.add(RoleGrant(line_user_id=ADVISOR, role="advisor", granted_by="test"))
        session.add(TeamMember(line_user_id=ADVISOR, display_name="林顧問"))
        session.add(User(line_user_id=STAFF))
        for n, (name, tax, verdict, letter) in enumerate((("好味道小吃", "12345675", "eligible", "signed"),
                                                          ("阿明咖啡館", "24536806", "eligible", "none"),
                                                          ("小林鞋店", "04595257", "ineligible", "none"))):
            user = f"U{n:032d}"
            session.add(User(line_user_id=user, consent_version="v1"))
            company = Company(name=name, tax_id=tax, verdict=verdict, letter_status=letter, county="臺中市",
                              advisor_line_user_id=ADVISOR if n < 2 else None)
            session.add(company)
            session.flush()
            session.add(CompanyMember(company_id=company.id, line_user_id=user))
            ids[name] = company.id
        for day, mode in ((1, "onsite"), (2, "online"), (3, "phone")):
            session.add(Visit(company_id=ids["好味道小吃"], advisor_line_user_id=ADVISOR, status="done", mode=mode,
                              visited_at=utc_now() - timedelta(days=day), duration_minutes=60, topics="POS教學"))
    return ids


def _login(app, live_server) -> requests.Session:
    with app.extensions["bot"].database.session() as session:
        token = staff_service.create_login_token(session, line_user_id=STAFF)
    browser = requests.Session()
    assert browser.post(f"{live_server.url}/staff/login/{token}", allow_redirects=False).status_code == 302
    return browser


def _asked(app, asker: str, question: str) -> int:
    """A follower's question the FAQ could not answer; its id."""
    with app.extensions["bot"].database.session() as session:
        session.add(User(line_user_id=asker))
        row = UnansweredQuestion(line_user_id=asker, question=question)
        session.add(row)
        session.flush()
        return row.id


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_staff_pages_need_token_or_login(app, live_server):
    for path in ("/staff/", "/staff/visits", "/staff/visits.csv", "/staff/broadcasts", "/staff/audit",
                 "/staff/api/summary", "/staff/api/broadcasts"):
        assert requests.get(live_server.url + path).status_code == 403, path
        wrong = requests.get(live_server.url + path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403, path
        assert requests.get(live_server.url + path, headers=BEARER).status_code == 200, path
    page = requests.get(live_server.url + "/staff/", headers={"Accept": "text/html"})
    assert "/登入" in page.text  # tells a person how to get in


def test_out_of_range_numbers_in_the_query_string_are_bounded_not_a_500(app, live_server):
    """?limit=-9e20 reached SQLite as LIMIT -973140255187831357440: OverflowError, a 500
    (found by tests/test_fuzz_endpoints.py)."""
    huge = "-973140255187831357440"
    for path in (f"/staff/api/broadcasts?limit={huge}", f"/staff/outbox?limit={huge}",
                 f"/staff/audit?page={huge[1:]}", "/staff/api/broadcasts?limit=abc"):
        assert requests.get(live_server.url + path, headers=BEARER).status_code == 200, path


def test_overview_figures(app, live_server):
    _programme(app)
    html = requests.get(live_server.url + "/staff/", headers=BEARER).text
    assert re.search(r'class="big">3 <small>家', html)  # recruited, against tiers from programs.yaml
    assert "A 級（50–75 家）" in html and "距 A 級還差 47 家" in html
    assert "已簽署 <b>1</b> / 招募 3 家" in html and "33%" in html
    assert "達標企業 <b>1</b> / 3 家" in html
    # The FAQ's unanswered log: shown (with a link) only when that table exists.
    with app.extensions["bot"].database.session() as session:
        has_log = "unanswered_questions" in sa.inspect(session.get_bind()).get_table_names()
    assert ('id="unanswered"' in html) == has_log
    summary = requests.get(live_server.url + "/staff/api/summary", headers=BEARER).json()
    assert summary["recruited"] == 3 and summary["letters"]["signed"] == 1
    assert summary["visits"]["met"] == 1 and summary["visits"]["min_total"] == 3
    funnel = {step["label"]: step["value"] for step in summary["funnel"]}
    assert funnel["符合資格"] == 2 and funnel["同意個資聲明"] == 3


def test_visits_csv_has_bom_and_rows(app, live_server):
    _programme(app)
    response = requests.get(live_server.url + "/staff/visits.csv", headers=BEARER)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("visit_id,company_tax_id,company_name")
    assert len(lines) == 4 and all("好味道小吃" in line for line in lines[1:])
    page = requests.get(live_server.url + "/staff/visits", headers=BEARER).text
    assert "林顧問" in page and "3 / 3" in page


def test_assign_from_dashboard_needs_csrf_and_is_audited(app, live_server):
    ids = _programme(app)
    browser = _login(app, live_server)
    page = browser.get(f"{live_server.url}/staff/companies").text
    url = f"{live_server.url}/staff/companies/{ids['小林鞋店']}/assign"
    assert browser.post(url, data={"advisor": ADVISOR}).status_code == 400  # no CSRF token
    response = browser.post(url, data={"advisor": ADVISOR, "csrf": _csrf(page)}, allow_redirects=False)
    assert response.status_code == 302
    with app.extensions["bot"].database.session() as session:
        assert session.get(Company, ids["小林鞋店"]).advisor_line_user_id == ADVISOR
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "company_assigned")).one()
        assert entry.actor == STAFF


def test_broadcast_from_dashboard_preview_then_report(app, live_server, fake_line):
    _programme(app)
    browser = _login(app, live_server)
    page = browser.get(f"{live_server.url}/staff/broadcasts").text
    form = {"csrf": _csrf(page), "text": "意向書 3/16 截止，請記得簽署。", "audience_kind": "verdict",
            "value_verdict": "eligible"}
    preview = browser.post(f"{live_server.url}/staff/broadcasts/preview", data=form)
    assert preview.status_code == 200
    assert 'id="recipient-count">2 人' in preview.text
    assert '<div class="bubble">意向書 3/16 截止，請記得簽署。</div>' in preview.text
    confirm = {k: v for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', preview.text)}
    report = browser.post(f"{live_server.url}/staff/broadcasts", data=confirm)
    assert report.status_code == 200 and "發送報告" in report.text
    assert eventually(lambda: fake_line.texts_for("U" + "0" * 32) == ["意向書 3/16 截止，請記得簽署。"])
    broadcast_id = int(re.search(r"公告 #(\d+)", report.text).group(1))
    assert eventually(lambda: browser.get(f"{live_server.url}/staff/broadcasts/{broadcast_id}?format=json")
                      .json()["sent"] == 2)
    assert fake_line.texts_for("U" + "0" * 31 + "2") == []  # ineligible owner not in this audience


def test_bad_broadcast_drafts_are_shown_again_and_nothing_is_queued(app, live_server):
    from broadcasts.models import Broadcast

    _programme(app)
    browser = _login(app, live_server)
    csrf = _csrf(browser.get(f"{live_server.url}/staff/broadcasts").text)
    preview = f"{live_server.url}/staff/broadcasts/preview"
    bad = browser.post(preview, data={"csrf": csrf, "text": " ", "audience_kind": "all",
                                      "scheduled_for": "明天早上"})
    assert bad.status_code == 422
    assert "公告內容不能是空白喔。" in bad.text and "排程時間格式不正確" in bad.text
    assert 'value="明天早上"' in bad.text  # the draft is kept for fixing
    nobody = browser.post(preview, data={"csrf": csrf, "text": "說明會", "audience_kind": "county",
                                         "value_county": "花蓮縣"})
    assert nobody.status_code == 422 and "（0 人）" in nobody.text
    # A confirm page left open while its audience emptied (or a forged one): refused, nothing queued.
    stale = browser.post(f"{live_server.url}/staff/broadcasts",
                         data={"csrf": csrf, "text": "說明會", "audience_kind": "county", "audience_value": "花蓮縣"})
    assert stale.status_code == 422
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Broadcast)).all() == []


def test_an_empty_or_stale_answer_to_an_unanswered_question_sends_nothing(app, live_server):
    asker = "U" + "a" * 32
    question_id = _asked(app, asker, "可以用手機報名嗎？")
    _programme(app)
    browser = _login(app, live_server)
    csrf = _csrf(browser.get(f"{live_server.url}/staff/unanswered").text)
    for target, answer in ((question_id, "  "), (question_id + 1, "可以。")):  # empty; a question that is gone
        page = browser.post(f"{live_server.url}/staff/unanswered/{target}/reply", data={"csrf": csrf, "answer": answer})
        assert page.status_code == 200 and f"#{target} 沒有回覆成功" in page.text
    assert "可以用手機報名嗎？" in page.text and "最近回覆" not in page.text  # still waiting
    with app.extensions["bot"].database.session() as session:
        assert session.get(UnansweredQuestion, question_id).status == "open"
        assert session.exec(select(OutboundMessage).where(OutboundMessage.recipient == asker)).all() == []


BROWSER = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not Path(BROWSER).exists(), reason="needs /usr/bin/chromium")
def test_dashboard_in_headless_chromium_on_a_phone(app, live_server, fake_line):
    from playwright.sync_api import sync_playwright

    _programme(app)
    with app.extensions["bot"].database.session() as session:
        token = staff_service.create_login_token(session, line_user_id=STAFF)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, headless=True,
                                             args=["--no-sandbox", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True,
                                has_touch=True)
        page.goto(f"{live_server.url}/staff/login/{token}")
        page.click("#login-button")
        page.wait_for_selector("#recruitment")
        assert page.locator("#funnel .bar-row").count() == 7
        assert page.locator("#letters svg.donut").is_visible()
        # Phone-friendly: nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(SCREENSHOTS / "overview-phone.png"), full_page=True)

        page.click("text=公告")
        page.fill("textarea[name=text]", "本週六 14:00 數位工具說明會，歡迎參加！")
        page.check("input[name=audience_kind][value=county]")
        page.select_option("select[name=value_county]", "臺中市")
        page.click("#preview-button")
        page.wait_for_selector("#recipient-count")
        assert page.inner_text("#recipient-count") == "3 人"
        assert "本週六 14:00 數位工具說明會" in page.inner_text(".phone")
        page.screenshot(path=str(SCREENSHOTS / "broadcast-preview-phone.png"), full_page=True)
        page.click("#confirm-button")
        page.wait_for_selector("#report")
        assert eventually(lambda: len(fake_line.texts_for("U" + "0" * 32)) == 1)
        page.reload()
        assert page.inner_text("#sent") == "3"
        page.screenshot(path=str(SCREENSHOTS / "broadcast-report-phone.png"), full_page=True)

        page.click("text=企業與顧問")
        page.select_option("tr:has-text('小林鞋店') select[name=advisor]", ADVISOR)
        page.click("tr:has-text('小林鞋店') button")
        page.wait_for_selector("#companies-table")
        assert page.locator("tr:has-text('小林鞋店') select[name=advisor]").input_value() == ADVISOR
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(SCREENSHOTS / "companies-phone.png"), full_page=True)

        # The audit log in words, every column on the phone screen (the details were cut off).
        with app.extensions["bot"].database.session() as session:
            from bot.services import audit
            audit(session, actor="U" + "9" * 32, action="letter_signed", target="letter:1", version=2,
                  sha256="ab" * 32, channel="sign_page")
            audit(session, actor="U" + "9" * 32, action="privacy_exported", format="csv")
        page.click("text=稽核紀錄")
        page.wait_for_selector("#audit-table")
        table = page.inner_text("#audit-table")
        for words in ("簽署意向書", "下載個人資料", "登入後台", "版本：2", "管道：簽名網頁"):
            assert words in table, words
        for code in ("letter_signed", "privacy_exported", "staff_login", "sign_page"):
            assert code not in table, code
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        for cell in page.locator("#audit-table td[data-label='細節'] span").all():
            box = cell.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        page.screenshot(path=str(SCREENSHOTS / "audit-phone.png"), full_page=True)
        browser.close()


def test_visit_photos_and_audit_labels_on_the_dashboard(app, live_server):
    from visits.photos import VisitPhoto

    _programme(app)
    with app.extensions["bot"].database.session() as session:
        visit = session.exec(select(Visit)).first()
        session.add(VisitPhoto(visit_id=visit.id, message_id="m1", mime="image/png", size=4, data=b"\x89PNG"))
        from bot.services import audit
        audit(session, actor=STAFF, action="broadcast_created", target="broadcast:1")
    page = requests.get(live_server.url + "/staff/visits", headers=BEARER).text
    link = re.search(r'href="(/staff/visits/photos/\d+)"', page).group(1)
    photo = requests.get(live_server.url + link, headers=BEARER)
    assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/png" and photo.content == b"\x89PNG"
    assert requests.get(live_server.url + link).status_code == 403
    audit_page = requests.get(live_server.url + "/staff/audit", headers=BEARER).text
    assert "建立公告" in audit_page


def test_unanswered_questions_answered_from_the_dashboard(app, live_server, fake_line):
    asker = "U" + "a" * 32
    question_id = _asked(app, asker, "可以用手機報名嗎？")
    _programme(app)
    overview = requests.get(live_server.url + "/staff/", headers=BEARER).text
    assert 'id="unanswered"' in overview and 'href="/staff/unanswered"' in overview
    browser = _login(app, live_server)
    page = browser.get(f"{live_server.url}/staff/unanswered")
    assert page.status_code == 200 and "可以用手機報名嗎？" in page.text
    done = browser.post(f"{live_server.url}/staff/unanswered/{question_id}/reply",
                        data={"csrf": _csrf(page.text), "answer": "可以，用手機填表即可。"})
    assert done.status_code == 200 and f"已回覆 #{question_id}" in done.text
    assert eventually(lambda: any("可以，用手機填表即可。" in t for t in fake_line.texts_for(asker)))
    with app.extensions["bot"].database.session() as session:
        assert session.get(UnansweredQuestion, question_id).answered_by == STAFF
