"""The funded-business register: CSV import (CLI), classification of matches, and its use in the
verdict (chat and POST /api/eligibility)."""
from __future__ import annotations

import pytest
from sqlmodel import select

from bot.models import AuditEntry
from bot.texts import t
from companies.models import Company
from eligibility.engine import ELIGIBLE, INELIGIBLE, NEEDS_REVIEW, Reason, Verdict
from eligibility.funding import FundedRecord, apply_register, classify, parse_year, read_rows
from eligibility.models import FundedBusiness
from tests.test_eligibility_chat import begin, chat, drive, step_of, the_company  # noqa: F401 (chat: the steady fixture)
from tests.test_eligibility_helpers import gonghao

GONGHAO = gonghao()

CSV = """統一編號,企業名稱,計畫名稱,年度
21556433,小明咖啡,雲世代產業數位轉型計畫,111
04595257,阿華商行,推動中小型店家數位轉型補助方案,2022
81496408,好食堂,中小企業數位群聚輔導,108
12345678,錯的統編,某計畫,112
,沒有統編,某計畫,112
22379127,今年的,某中企處計畫,112年
65639967,年度亂寫,某計畫,去年
83214741,,,111
21556433,小明咖啡,雲世代產業數位轉型計畫,111
"""


def record(programme: str, year: int | None, tax_id: str = "21556433") -> FundedRecord:
    return FundedRecord(tax_id=tax_id, name="小明咖啡", programme=programme, year_roc=year)


@pytest.mark.parametrize("text,expected", [("112", 112), ("112年", 112), ("民國111年", 111), ("2023", 112),
                                           ("", None), ("１１０", 110)])
def test_parse_year(text, expected):
    assert parse_year(text) == expected


@pytest.mark.parametrize("text", ["去年", "12", "99999"])
def test_parse_year_rejects_nonsense(text):
    with pytest.raises(ValueError):
        parse_year(text)


def test_read_rows_reports_each_bad_row_and_never_crashes():
    good, bad = read_rows(CSV)
    assert [r.tax_id for _, r in good] == ["21556433", "04595257", "81496408", "22379127", "21556433"]
    assert good[1][1].year_roc == 111  # 2022 -> 民國 111
    lines = dict(bad)
    assert set(lines) == {5, 6, 8, 9}
    assert "檢查碼" in lines[5] and "統一編號" in lines[6] and "年度" in lines[8] and "計畫" in lines[9]


def test_read_rows_without_header_uses_column_order():
    good, bad = read_rows("21556433,小明咖啡,雲世代產業數位轉型計畫,111\n")
    assert bad == [] and good[0][1].programme == "雲世代產業數位轉型計畫"


def test_read_rows_ragged_and_garbage_lines():
    good, bad = read_rows('統編,名稱\n21556433\n"unterminated,\n\n')
    assert good == [] and len(bad) == 2


@pytest.mark.parametrize("programme,year,outcome,code", [
    ("雲世代產業數位轉型計畫", 110, INELIGIBLE, "funded_cloud_gen"),
    ("雲世代商圈數位轉型輔導", 112, INELIGIBLE, "funded_cloud_gen"),
    ("雲世代產業數位轉型計畫", 109, NEEDS_REVIEW, "funded_record_check"),  # outside 110–112
    ("雲世代產業數位轉型計畫", None, NEEDS_REVIEW, "funded_record_check"),  # year unknown: staff check
    ("推動中小型店家數位轉型補助方案", 111, INELIGIBLE, "funded_shop_dx_subsidy"),
    ("中小企業數位群聚輔導", 112, INELIGIBLE, "funded_same_year"),  # same year as 112年 共好
    ("中小企業數位群聚輔導", 111, NEEDS_REVIEW, "funded_record_check"),
])
def test_classify(programme, year, outcome, code):
    [(found_outcome, reason)] = classify(program=GONGHAO, records=[record(programme, year)])
    assert (found_outcome, reason.code) == (outcome, code)
    assert programme in reason.message  # the matching record is cited
    assert reason.source.startswith("002")


def test_apply_register_outranks_and_keeps_reasons():
    review = Verdict(NEEDS_REVIEW, [Reason("x", "x", "002")])
    assert apply_register(program=GONGHAO, verdict=Verdict(ELIGIBLE), records=[]).verdict == ELIGIBLE
    hard = apply_register(program=GONGHAO, verdict=review, records=[record("雲世代計畫", 111)])
    assert hard.verdict == INELIGIBLE and hard.codes == ["funded_cloud_gen"]
    soft = apply_register(program=GONGHAO, verdict=review, records=[record("其他計畫", 105)])
    assert soft.verdict == NEEDS_REVIEW and soft.codes == ["x", "funded_record_check"]
    already = Verdict(INELIGIBLE, [Reason("no_registration", "m", "002")])
    assert apply_register(program=GONGHAO, verdict=already, records=[record("其他計畫", 105)]).codes == \
        ["no_registration"]


def import_csv(app, tmp_path, text: str = CSV):
    path = tmp_path / "funded.csv"
    path.write_text(text, encoding="utf-8")
    return app.test_cli_runner().invoke(args=["funding", "import", str(path)])


def test_cli_import_reports_imported_and_skipped(app, tmp_path):
    result = import_csv(app, tmp_path)
    assert result.exit_code == 0, result.output
    assert "匯入 4 筆，重複 1 筆，略過 4 筆" in result.output
    assert "第 5 行" in result.output
    again = import_csv(app, tmp_path)
    assert "匯入 0 筆，重複 5 筆" in again.output
    with app.extensions["bot"].database.session() as session:
        rows = session.exec(select(FundedBusiness)).all()
        assert len(rows) == 4 and {r.source for r in rows} == {"funded.csv"}


def test_cli_import_big5_file(app, tmp_path):
    path = tmp_path / "big5.csv"
    path.write_bytes("統編,名稱,計畫,年度\n21556433,小明,雲世代計畫,111\n".encode("cp950"))
    result = app.test_cli_runner().invoke(args=["funding", "import", str(path)])
    assert "匯入 1 筆" in result.output


def test_api_applies_register_when_tax_id_given(app, tmp_path):
    import_csv(app, tmp_path)
    client = app.test_client()
    body = {"program": "gonghao-2023", "answers": {"registration": "company", "employees": 3,
                                                    "prior_funding": [], "tax_id": "21556433"}}
    response = client.post("/api/eligibility", json=body)
    assert response.status_code == 200
    data = response.get_json()
    assert data["verdict"] == "ineligible"
    assert data["reasons"][0]["code"] == "funded_cloud_gen" and "雲世代" in data["reasons"][0]["message"]
    body["answers"]["tax_id"] = "81496408"  # 108年 群聚: not a hard match -> staff check
    assert client.post("/api/eligibility", json=body).get_json()["verdict"] == "needs_review"
    body["answers"]["tax_id"] = "65639967"  # not on the list
    assert client.post("/api/eligibility", json=body).get_json()["verdict"] == "eligible"
    del body["answers"]["tax_id"]
    assert client.post("/api/eligibility", json=body).get_json()["verdict"] == "eligible"


def test_chat_verdict_uses_register(app, chat, tmp_path):
    """Right after the 統編: a hard register match ends the intake as ineligible (no details asked,
    no record); a soft one turns the verdict announced before into needs_review, and says so."""
    import_csv(app, tmp_path)
    begin(chat)
    texts = drive(chat, {"registration": "company", "employees": 3, "prior_funding": [], "tax_id": "04595257"})
    shown = "\n".join(texts)
    assert t("eligibility.verdict_title_ineligible") in shown
    assert "推動中小型店家數位轉型補助方案" in shown
    assert t("eligibility.ask_company_name") not in shown and step_of(chat) is None
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Company)).all() == []
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "eligibility_verdict")).one()
        assert entry.detail["codes"] == ["funded_shop_dx_subsidy"]
    chat.say("重新檢查資格")
    texts = drive(chat, {"registration": "company", "employees": 3, "prior_funding": []}, stop_at="tax_id")
    assert t("eligibility.verdict_title_eligible") in "\n".join(texts)
    texts = chat.say("81496408")  # 108年 群聚: not a hard match -> staff check, announced at once
    assert t("eligibility.verdict_title_needs_review") in "\n".join(texts) and step_of(chat) == "company_name"
    drive(chat, {"registration": "company"})
    company = the_company(chat)
    assert company.verdict == "needs_review" and company.verdict_reasons[-1]["code"] == "funded_record_check"
