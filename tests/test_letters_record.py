"""Letters of intent: the tamper-evident record, PDF, staff endpoints, exports and the CLI."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from companies.models import Company, CompanyMember
from letters import document as doc
from letters import service
from letters.models import Letter, LetterEvent, LetterVersion
from tests.conftest import STAFF_TOKEN

AUTH = {"Authorization": f"Bearer {STAFF_TOKEN}"}
FIELDS = {"company_name": "小明商行", "tax_id": "04595257", "registration": "registered", "employees": 3,
          "contact_name": "王小明", "mobile": "0912345678", "phone": "02-2345-6789#12",
          "email": "shop@example.com", "address": "臺北市大同區承德路二段239號", "representative": "王大明"}


def campaign(app) -> dict:
    return doc.campaign_settings(app.config, "gonghao-2023")


def add_company(session, *, user: str, tax_id: str, name: str, verdict: str = "eligible", **extra) -> Company:
    company = Company(tax_id=tax_id, name=name, registration=extra.pop("registration", "business"),
                      employees=extra.pop("employees", 3), verdict=verdict, main_product="手搖飲",
                      county="臺北市", township="大同區", **extra)
    session.add(company)
    session.flush()
    session.add(CompanyMember(company_id=company.id, line_user_id=user))
    session.flush()
    return company


def signed_letter(app, *, user: str = "U" + "1" * 32, tax_id: str = "04595257", name: str = "小明商行",
                  at: datetime | None = None) -> int:
    with app.extensions["bot"].database.write_session() as session:
        company = add_company(session, user=user, tax_id=tax_id, name=name)
        letter, _ = service.sign_letter(
            session, company=company, line_user_id=user, display_name="小明", fields={**FIELDS, "tax_id": tax_id,
                                                                                     "company_name": name},
            campaign=campaign(app), signature=service.Signature(signed_name="王大明"),
            consent_sha256=doc.consent_sha256(), now=at)
        return letter.id


def verify(app) -> dict:
    with app.extensions["bot"].database.session() as session:
        return service.verify_all(session)


def test_verify_passes_then_detects_each_kind_of_tampering(app):
    letter_id = signed_letter(app)
    database = app.extensions["bot"].database
    with database.write_session() as session:
        letter = session.get(Letter, letter_id)
        service.record_download(session, letter=letter, version=session.get(LetterVersion, letter.current_version_id),
                                actor="staff-token", via="staff")
    assert verify(app)["ok"]

    # 1. someone edits the signed content (the canonical JSON) of a version
    # Read, then write in a transaction of its own: a read transaction that later writes cannot wait
    # for a writer that committed in between (SQLite WAL answers "database is locked" at once).
    with database.engine.connect() as connection:
        original = connection.execute(sa.text("SELECT canonical_json FROM letter_versions")).scalar_one()
    with database.engine.begin() as connection:
        connection.execute(sa.text("UPDATE letter_versions SET canonical_json = :j"),
                           {"j": original.replace("王大明", "王二明")})
    report = verify(app)
    assert not report["ok"] and any("SHA-256" in p for p in report["problems"][letter_id])
    with database.engine.begin() as connection:
        connection.execute(sa.text("UPDATE letter_versions SET canonical_json = :j"), {"j": original})
    assert verify(app)["ok"]

    # 2. an audit event is back-dated
    with database.engine.begin() as connection:
        connection.execute(sa.text("UPDATE letter_events SET at = '2023-01-01 00:00:00' WHERE kind = 'signed'"))
    assert not verify(app)["ok"]


def test_verify_detects_a_deleted_event_and_a_swapped_signer(app):
    letter_id = signed_letter(app)
    database = app.extensions["bot"].database
    with database.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM letter_events WHERE kind = 'signed'"))
    problems = verify(app)["problems"][letter_id]
    assert any("chain head" in p or "no 'signed' event" in p for p in problems)

    other = signed_letter(app, user="U" + "2" * 32, tax_id="12345675", name="阿美小吃")
    with database.engine.begin() as connection:
        connection.execute(sa.text("UPDATE letter_versions SET signer_line_user_id = 'Uattacker' WHERE letter_id = :i"),
                           {"i": other})
    assert any("signer" in p for p in verify(app)["problems"][other])


def test_cli_letters_verify_and_export(app):
    signed_letter(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["letters", "verify"])
    assert result.exit_code == 0 and "all chains intact" in result.output
    result = runner.invoke(args=["letters", "verify", "--json"])
    assert json.loads(result.output)["ok"] is True
    with app.extensions["bot"].database.engine.begin() as connection:
        connection.execute(sa.text("UPDATE letter_events SET detail = '{}' WHERE kind = 'consented'"))
    result = runner.invoke(args=["letters", "verify"])
    assert result.exit_code == 1 and "FAILED" in result.output

    result = runner.invoke(args=["export", "companies", "--format", "csv"])
    assert result.exit_code == 0
    assert result.output.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(result.output.lstrip("\ufeff"))))
    assert rows[0] == doc.template()["export_companies_columns"]
    assert rows[1] == ["1", "04595257", "3", "小明商行", "臺北市/大同區", "手搖飲", "1", "否"]


def test_staff_endpoints_need_the_token(app):
    client = app.test_client()
    for path in ("/staff/companies.csv", "/staff/letters", "/staff/letters.csv", "/staff/summary",
                 "/staff/letters/1/pdf"):
        assert client.get(path).status_code == 403
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 403
    token = app.config.pop("STAFF_API_TOKEN")
    try:
        assert client.get("/staff/summary", headers=AUTH).status_code == 403  # unset: endpoints are off
    finally:
        app.config["STAFF_API_TOKEN"] = token


def test_companies_csv_is_the_annex_one_table(app):
    with app.extensions["bot"].database.write_session() as session:
        add_company(session, user="Ua", tax_id="04595257", name="小明商行")
        add_company(session, user="Ub", tax_id="12345675", name="阿美小吃", registration="tax_only", employees=1,
                    answers={"prior_funding": ["shop_dx_subsidy"]})
        add_company(session, user="Uc", tax_id="22099131", name="不符合行", verdict="ineligible")
    response = app.test_client().get("/staff/companies.csv", headers=AUTH)
    assert response.status_code == 200 and "text/csv" in response.content_type
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["序", "統編", "公司人數", "公司名稱", "所在地(縣市/鄉鎮)", "主要服務/產品",
                       "企業型態 1.商業登記 2.稅籍登記(請填寫數字)", "112年是否參與/申請政府相關輔導/補助計畫"]
    assert [r[3] for r in rows[1:]] == ["小明商行", "阿美小吃"]  # the ineligible business is not recruited
    assert rows[2][6] == "2" and rows[2][7].startswith("是：") and "推動中小型店家數位轉型補助方案" in rows[2][7]


def test_letters_list_and_summary(app):
    signed_letter(app)
    with app.extensions["bot"].database.write_session() as session:
        for index in range(9):
            add_company(session, user=f"U{index}", tax_id=None, name=f"店家{index}")
    client = app.test_client()
    letters = client.get("/staff/letters", headers=AUTH).get_json()
    assert letters["count"] == 1 and letters["letters"][0]["status"] == "signed"
    assert letters["letters"][0]["version"] == 1 and len(letters["letters"][0]["sha256"]) == 64
    table = client.get("/staff/letters.csv", headers=AUTH)
    rows = list(csv.reader(io.StringIO(table.data.decode("utf-8-sig"))))
    assert rows[1][1] == "小明商行" and rows[1][3] == "已簽署"

    summary = client.get("/staff/summary", headers=AUTH).get_json()
    assert summary["recruited"] == 10 and summary["tier"] is None and summary["short_of_minimum"] == 40
    assert summary["letters"]["signed"] == 1 and summary["letters"]["ratio"] == 0.1
    assert summary["letters"]["required_ratio"] == 0.1 and summary["letters"]["met"] is True
    assert summary["replacements"]["limit"] == 0.5


def test_summary_tiers_acceptance_and_replacements(app):
    overrides = {"accepted": True, "proposal_deadline": "200/01/01 00:00"}
    app.config["LETTERS_CAMPAIGN_OVERRIDES"] = {"gonghao-2023": overrides}
    try:
        ids = [signed_letter(app, user=f"U{i:032d}", tax_id=tax_id, name=f"店{i}")
               for i, tax_id in enumerate(("04595257", "12345675", "22099131", "53212539"))]
        with app.extensions["bot"].database.write_session() as session:
            for index in range(50):
                add_company(session, user=f"Ux{index}", tax_id=None, name=f"候補{index}")
            letter = session.get(Letter, ids[0])
            service.withdraw_letter(session, letter=letter, actor="U", campaign=campaign(app) | overrides)
        with app.extensions["bot"].database.session() as session:
            result = service.summary(session, program_id="gonghao-2023", campaign=campaign(app) | overrides)
    finally:
        app.config.pop("LETTERS_CAMPAIGN_OVERRIDES")
    # the withdrawn company left letter_status "withdrawn" but stays eligible: 54 recruited
    assert result["recruited"] == 54 and result["tier"]["tier"] == "A"
    assert result["letters"]["phase"] == "after_acceptance" and result["letters"]["required_ratio"] == 1.0
    assert result["letters"]["signed"] == 3 and result["letters"]["met"] is False
    assert result["replacements"] == {"count": 1, "base": 4, "ratio": 0.25, "limit": 0.5, "within_limit": True}


def test_withdrawal_after_the_proposal_deadline_is_refused(app):
    letter_id = signed_letter(app)
    with app.extensions["bot"].database.write_session() as session:
        with pytest.raises(service.WithdrawalClosed):
            service.withdraw_letter(session, letter=session.get(Letter, letter_id), actor="U",
                                    campaign=campaign(app))


def test_pdf_has_the_letter_signature_block_and_certificate(app):
    letter_id = signed_letter(app, at=datetime(2023, 3, 10, 2, 30, tzinfo=timezone.utc))
    response = app.test_client().get(f"/staff/letters/{letter_id}/pdf", headers=AUTH)
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(response.data))
    pages = [page_text(page) for page in reader.pages]
    text = "".join(pages)
    for expected in ("企業合作意向書", "小店雲端好幫手", "小明商行", "04595257", "王小明", "0912345678",
                     "shop@example.com", "範例雲端科技股份有限公司", "112/07/31", "不得於當年度同時接受經濟部中小企業處其他計畫輔導",
                     "公司大小章", "中華民國112年3月10日", "王大明"):
        assert expected in text, expected
    certificate = pages[-1]
    with app.extensions["bot"].database.session() as session:
        version = session.get(LetterVersion, session.get(Letter, letter_id).current_version_id)
        kinds = [e.kind for e in service.events_of(session, letter_id=letter_id)]
    assert "電子簽署證明" in certificate and version.sha256 in certificate
    assert "112/03/1010:30" in certificate  # Taipei time, ROC date
    assert "簽署" in certificate and "下載" in certificate and kinds[-1] == "downloaded"
    font = reader.pages[0]["/Resources"]["/Font"]["/F1"].get_object()["/DescendantFonts"][0].get_object()
    assert "NotoSansCJKTC" in str(font["/BaseFont"]) and "/FontFile3" in font["/FontDescriptor"]  # embedded


def page_text(page) -> str:
    """The page's text without spaces, decoded through each font's ToUnicode map.

    pypdf's extract_text mis-reads fpdf2's CID-keyed CFF fonts (Noto Sans CJK), whose encoding is
    an embedded CMap stream: it decodes one byte at a time. So decode the 2-byte codes ourselves."""
    from pypdf.generic import ContentStream

    maps = {}
    for name, ref in page["/Resources"]["/Font"].items():
        cmap = ref.get_object()["/ToUnicode"].get_object().get_data().decode("latin-1")
        maps[name] = {int(code, 16): bytes.fromhex(uni).decode("utf-16-be")
                      for code, uni in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]+)>", cmap)}
    out, current = [], {}
    for operands, operator in ContentStream(page.get_contents(), page.pdf).operations:
        if operator == b"Tf":
            current = maps.get(operands[0], {})
        elif operator in (b"Tj", b"TJ"):
            items = operands[0] if operator == b"TJ" else [operands[0]]
            for item in items:
                if isinstance(item, (bytes, str)):
                    data = item if isinstance(item, bytes) else item.original_bytes
                    out += [current.get(int.from_bytes(data[i:i + 2], "big"), "") for i in range(0, len(data) - 1, 2)]
    return "".join("".join(out).split())


def test_owner_link_expires_and_cannot_be_forged(app):
    from letters import links

    from bot.models import User

    letter_id = signed_letter(app)
    with app.extensions["bot"].database.session() as session:
        version_id = session.get(Letter, letter_id).current_version_id
        session.add(User(line_user_id="U1"))  # a link works only for a person still here
    url = links.pdf_url(app.config, letter_id=letter_id, version_id=version_id, user_id="U1")
    path = url.split("127.0.0.1:9", 1)[-1] if "127.0.0.1:9/" in url else "/" + url.split("/", 3)[3]
    client = app.test_client()
    assert client.get(path).status_code == 200
    assert client.get(path[:-2] + "AA").status_code == 410
    app.config["LETTER_LINK_SECONDS"] = 1
    try:
        import time

        time.sleep(2.1)
        assert client.get(path).status_code == 410
    finally:
        app.config.pop("LETTER_LINK_SECONDS")


def test_a_missing_font_is_a_clear_error(app, monkeypatch):
    from letters import pdf

    letter_id = signed_letter(app)
    monkeypatch.setattr(pdf, "FONT_CANDIDATES", ("/nonexistent/NotoSansCJK-Regular.ttc",))
    monkeypatch.delenv("LETTERS_FONT_PATH", raising=False)
    pdf.find_font.cache_clear()
    try:
        with pytest.raises(pdf.FontMissing, match="fonts-noto-cjk"):
            pdf.find_font(None)
        response = app.test_client().get(f"/staff/letters/{letter_id}/pdf", headers=AUTH)
        assert response.status_code == 503 and b"fonts-noto-cjk" in response.data
    finally:
        pdf.find_font.cache_clear()


def test_verify_accepts_a_documented_redaction_but_not_a_silent_edit(app):
    """privacy/letters_retention.py redacts retained letters on erasure: the version keeps its
    signed SHA-256 and a chained 'redacted' event records the new hash."""
    letter_id = signed_letter(app)
    database = app.extensions["bot"].database
    with database.write_session() as session:
        letter = session.get(Letter, letter_id)
        version = session.get(LetterVersion, letter.current_version_id)
        content = json.loads(version.canonical_json)
        content["fields"]["mobile"] = None
        version.canonical_json = doc.canonical_json(content)
        session.add(version)
        event = LetterEvent(letter_id=letter.id, seq=letter.event_count + 1, kind="redacted", actor="anon-1",
                            at=datetime(2026, 1, 1, tzinfo=timezone.utc), prev_hash=letter.head_hash, hash="",
                            detail={"versions": {str(version.id): {
                                "original_sha256": version.sha256,
                                "redacted_sha256": doc.sha256_hex(version.canonical_json)}}})
        event.hash = service.event_hash(event.prev_hash, event)
        letter.event_count, letter.head_hash = event.seq, event.hash
        session.add_all([event, letter])
    assert verify(app)["ok"]
    with database.engine.begin() as connection:
        connection.execute(sa.text("UPDATE letter_versions SET canonical_json = replace(canonical_json, '王大明', '王二明')"))
    assert not verify(app)["ok"]
