"""Knowledge-base validation (knowledge/loader.py) on fixture entries."""

import shutil
from pathlib import Path

import pytest

from knowledge.loader import check_knowledge_base

FIXTURES = Path(__file__).parent / "fixtures" / "kb"
SEEDS = FIXTURES / "seeds"

ENTRY = """
- id: {id}
  program: {program}
  question: {question}
  alternatives: [{alts}]
  answer: 測試答案
  source: {source}
  reviewed: 2026-11-21
"""


def write(dir_: Path, name: str, *entries: dict) -> None:
    dir_.mkdir(parents=True, exist_ok=True)
    text = ""
    for e in entries:
        params = {"program": "gonghao-2023", "question": "測試問題" + e["id"], "alts": "甲一, 乙二, 丙三",
                  "source": "002 叁 輔導對象", **e}
        text += ENTRY.format(**params)
    (dir_ / name).write_text(text, encoding="utf-8")


def test_fixture_kb_is_valid_with_counts():
    report = check_knowledge_base(entries_dir=FIXTURES / "entries", seeds_dir=SEEDS)
    assert report.ok, report.errors
    assert report.counts == {"gonghao-2023": 5, "cluster-2022": 3, "general": 1}
    assert report.total == 9


def test_duplicate_ids_are_errors(tmp_path):
    write(tmp_path / "a", "one.yaml", {"id": "gh-x"})
    write(tmp_path / "b", "two.yaml", {"id": "gh-x", "question": "另一個問題", "alts": "丁, 戊, 己"})
    report = check_knowledge_base(entries_dir=tmp_path, seeds_dir=SEEDS)
    assert not report.ok
    assert any("duplicate id" in e for e in report.errors)


def test_missing_source_is_an_error(tmp_path):
    (tmp_path / "e.yaml").write_text("- id: gh-y\n  program: gonghao-2023\n  question: 問\n  answer: 答\n",
                                     encoding="utf-8")
    report = check_knowledge_base(entries_dir=tmp_path, seeds_dir=SEEDS)
    assert any("missing field" in e and "source" in e for e in report.errors)


@pytest.mark.parametrize("source, message", [
    ("009 叁 輔導對象", "does not exist"),          # no such seed
    ("002 叁 不存在的章節", "not found in seed"),   # last segment not in seed text
    ("叁 輔導對象", "must be"),                     # no seed number
])
def test_unresolvable_source_is_an_error(tmp_path, source, message):
    write(tmp_path, "e.yaml", {"id": "gh-z", "source": source})
    report = check_knowledge_base(entries_dir=tmp_path, seeds_dir=SEEDS)
    assert not report.ok
    assert any(message in e for e in report.errors), report.errors


def test_source_matches_across_pdf_whitespace(tmp_path):
    # seed text reads "經常性僱用員工人數 9 人(含)以下" with spaces from the PDF
    write(tmp_path, "e.yaml", {"id": "gh-w", "source": "002 叁 員工人數9人(含)以下"})
    assert check_knowledge_base(entries_dir=tmp_path, seeds_dir=SEEDS).ok


def test_same_question_in_two_entries_is_an_error(tmp_path):
    write(tmp_path, "e.yaml",
          {"id": "gh-a", "question": "共融最少幾家？"},
          {"id": "gh-b", "question": "共融要帶幾家", "alts": "共融 最少 幾家!, 其他問法, 再一個"})
    report = check_knowledge_base(entries_dir=tmp_path, seeds_dir=SEEDS)
    assert any("also asked by gh-a" in e for e in report.errors), report.errors
    assert "gh-b" in report.invalid_ids


def test_bad_program_and_id_format(tmp_path):
    write(tmp_path, "e.yaml", {"id": "GH_Bad", "program": "gonghao-2024"})
    report = check_knowledge_base(entries_dir=tmp_path, seeds_dir=SEEDS)
    assert any("id must be" in e for e in report.errors)
    assert any("not in" in e for e in report.errors)


def test_broken_yaml_is_reported(tmp_path):
    shutil.copytree(FIXTURES / "entries", tmp_path / "entries")
    (tmp_path / "entries" / "broken.yaml").write_text("- id: x\n  question: [unclosed\n", encoding="utf-8")
    report = check_knowledge_base(entries_dir=tmp_path / "entries", seeds_dir=SEEDS)
    assert any("cannot parse YAML" in e for e in report.errors)
    assert report.total == 9  # the good files still load


def test_audience_and_counterpart_are_read_and_checked(tmp_path):
    (tmp_path / "e.yaml").write_text(
        "- {id: gh-unit, program: gonghao-2023, question: 經費上限, answer: 答, source: 002 叁 輔導對象,"
        " audience: [unit], counterpart: gh-shop}\n"
        "- {id: gh-shop, program: gonghao-2023, question: 店家拿到什麼, answer: 答, source: 002 叁 輔導對象,"
        " audience: [owner], counterpart: gh-unit}\n"
        "- {id: gh-all, program: gonghao-2023, question: 輔導期間, answer: 答, source: 002 叁 輔導對象}\n"
        "- {id: gh-bad, program: gonghao-2023, question: 壞的, answer: 答, source: 002 叁 輔導對象,"
        " audience: [owner, shopkeeper]}\n"
        "- {id: gh-lost, program: gonghao-2023, question: 迷路的, answer: 答, source: 002 叁 輔導對象,"
        " counterpart: gh-nowhere}\n", encoding="utf-8")
    report = check_knowledge_base(entries_dir=tmp_path, seeds_dir=SEEDS)
    by_id = {e.id: e for e in report.entries}
    assert by_id["gh-unit"].audience == ("unit",) and by_id["gh-unit"].counterpart == "gh-shop"
    assert by_id["gh-all"].audience == () and by_id["gh-all"].counterpart is None
    assert not report.ok  # an unknown audience or a missing counterpart: kb check fails, a strict reload refuses
    assert any("shopkeeper" in e for e in report.errors) and any("gh-nowhere" in e for e in report.errors)


def test_unstated_is_a_boolean(tmp_path):
    # An entry saying what the documents do not state (a penalty for a shop that quits).
    line = "- {{id: {}, program: gonghao-2023, question: {}, answer: 答, source: 002 叁 輔導對象{}}}\n"
    (tmp_path / "e.yaml").write_text(line.format("gh-quiet", "退出會被罰嗎", ", unstated: true")
                                     + line.format("gh-plain", "輔導期間", "")
                                     + line.format("gh-odd", "奇怪的", ", unstated: maybe"), encoding="utf-8")
    report = check_knowledge_base(entries_dir=tmp_path, seeds_dir=SEEDS)
    entries = {e.id: e.unstated for e in report.entries}
    assert entries == {"gh-quiet": True, "gh-plain": False}  # gh-odd is refused
    assert any("'unstated' must be true or false" in e for e in report.errors)
