"""Plain words for owners (issue 19): no reply template an owner can read holds an internal code
(tests/conftest.py ``Chat`` checks every message of the chat tests the same way), every audit
action reads as words on the dashboard, every table has a name in 「我的資料」."""
from __future__ import annotations

import re
import string

import pytest

from bot.texts import all_keys
from tests.conftest import REPO
from tests.internals import internal_codes, official_links, readable_parts

# Copy only staff and advisors read (their commands, the dashboard, the operator's CLI labels).
# 「綁定」's answers are read by whoever types it, so they stay in the owners' scan.
TEAM_ONLY = ("staff.", "broadcasts.", "visits.", "faq.staff_", "campaign.staff_notice", "campaign.rule_",
             "campaign.key_")
OWNERS_TOO = ("staff.bind_",)
CODE_DIRS = ("bot", "dialogs", "eligibility", "knowledge", "letters", "visits", "broadcasts", "scheduler",
             "staff", "privacy", "companies", "campaign", "adoption", "checkpoints", "replacements", "activities",
             "assessments", "checkup", "kpis")


def owner_templates() -> dict[str, str]:
    return {key: text for key, text in all_keys().items()
            if key.startswith(OWNERS_TOO) or not key.startswith(TEAM_ONLY)}


def test_no_reply_template_an_owner_reads_holds_internal_codes():
    problems = {}
    for key, text in owner_templates().items():
        words = "".join(literal for literal, *_ in string.Formatter().parse(text))  # without {placeholders}
        found = internal_codes(words, own_links=official_links())
        if found:
            problems[key] = found
    assert problems == {}


@pytest.mark.parametrize("text", [
    "文件雜湊：2d34ab12cd56…", "已同意（gonghao-2023-v1，112/03/01）", "規定：每家至少 3 次（002 叁 基本工作項目）",
    "填附件二的內容", "可用 flask --app bot letters verify 驗證", "欄位 consent_version", "原本：None",
    "JSON：http://elsewhere.example/privacy/export/abc.json", "U" + "0123456789abcdef" * 2])
def test_the_scanner_finds_each_kind_of_internal_code(text):
    assert internal_codes(text, own_links=("http://127.0.0.1:9",))


def test_the_scanner_leaves_plain_words_and_own_links_alone():
    assert internal_codes("您的合作意向書已簽署（第 2 版），112/03/01 14:05。電話 02-2345-6789#12，"
                          "看完整意向書：http://127.0.0.1:9/letters/draft/x", own_links=("http://127.0.0.1:9",)) == []
    flex = {"type": "flex", "altText": "我的資料", "contents": {"type": "bubble", "footer": {"contents": [
        {"type": "button", "action": {"type": "uri", "label": "看我的資料", "uri": "http://x/a_b/ffff0000aaaa"}}]}}}
    assert readable_parts(flex) == ["我的資料", "看我的資料"]  # the address behind a button is not read


def test_every_audit_action_in_the_code_has_words_on_the_dashboard():
    keys = all_keys()
    actions = set()
    literal = re.compile(r"""action=("[a-z_]+"(?:\s+if\s+[^\n]+?\s+else\s+"[a-z_]+")?)""")
    for folder in CODE_DIRS:
        for path in (REPO / folder).rglob("*.py"):
            for match in literal.findall(path.read_text(encoding="utf-8")):
                actions.update(re.findall(r'"([a-z_]+)"', match))
    assert "privacy_processing_resumed" in actions and "staff_login" in actions  # the scan sees them
    actions -= {"store_true", "store_false", "append", "count"}  # argparse's action= in the tools
    assert sorted(a for a in actions if f"staff.audit_{a}" not in keys) == []


def test_every_table_has_a_name_in_my_data():
    from sqlmodel import SQLModel

    from bot.db import import_all_models

    import_all_models()
    keys = all_keys()
    assert sorted(t.name for t in SQLModel.metadata.sorted_tables if f"privacy.table_{t.name}" not in keys) == []
