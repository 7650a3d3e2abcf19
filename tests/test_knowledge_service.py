"""FAQ service behaviour (knowledge/service.py) on the fixture KB."""

import shutil
from pathlib import Path

import pytest

from knowledge import calibration
from knowledge.service import FALLBACK_TEXT, KnowledgeBase, KnowledgeBaseError

FIXTURES = Path(__file__).parent / "fixtures" / "kb"


@pytest.fixture(scope="module")
def kb():
    return KnowledgeBase.load(FIXTURES / "entries", FIXTURES / "seeds", strict=True)


def test_paraphrase_is_answered_with_source(kb):
    res = kb.ask("共融最少要找幾家小微企業？", program_hint=None)
    assert res.matched and res.band == "answer"
    assert res.entry_id == "fx-gh-integration-count"
    assert "30家" in res.answer
    assert res.sources == ["002 叁 輔導對象"]
    assert 0.0 <= res.score <= 1.0


def test_simplified_question_is_answered(kb):
    res = kb.ask("合作意向书有范本吗")
    assert res.matched and res.entry_id == "fx-gh-loi-template"


def test_out_of_scope_falls_back(kb):
    for q in ("蝦皮開店要錢嗎", ""):
        res = kb.ask(q)
        assert not res.matched and res.band == "fallback"
        assert res.answer == FALLBACK_TEXT and res.entry_id is None


def test_off_topic_and_advice_are_declined_with_where_to_ask(kb):
    for q, kind in (("明天會放颱風假嗎", "off_topic"), ("今年營業稅要怎麼報比較省", "tax"),
                    ("房東要漲房租怎麼辦", "legal"), ("勞健保要怎麼退保", "labour")):
        res = kb.ask(q)
        assert not res.matched and res.band == "declined" and res.intent == f"declined:{kind}", q
        assert res.answer != FALLBACK_TEXT and res.entry_id is None
    assert "國稅局" in kb.ask("今年營業稅要怎麼報比較省").answer
    # A programme word keeps a question about the programme (不可抗力 mentions typhoons).
    assert kb.ask("共好的計畫遇到颱風延期怎麼辦").band != "declined"
    # One's own phone or computer is not the programme's cloud tool (whose outages the SLA answers).
    for q in ("我的手機一直當機怎麼辦", "iphone要怎麼截圖", "LINE的字體怎麼調大", "筆電中毒了"):
        assert kb.ask(q).band == "declined", q
    assert kb.ask("系統一直當機怎麼辦").band != "declined"


def test_small_talk_gets_a_short_reply_not_a_search(kb):
    for q in ("謝謝你🙏", "辛苦了～", "👍", "😀😀", "早安", "哈哈哈哈", "好的收到", "OK 了解", "晚安～明天再問你"):
        res = kb.ask(q)
        assert res.band == "small_talk" and not res.matched and res.entry_id is None, q
        assert res.answer and "\n" not in res.answer and len(res.answer) <= 80 and res.answer != FALLBACK_TEXT
    assert kb.ask("謝謝 那共融最少幾家").band != "small_talk"
    # Pleasantries owners add: a weather remark with the greeting, "I'll think about it", English acks.
    for q in ("晚上好", "早安 今天天氣不錯", "原來是這樣", "太好了", "好期待", "好 我考慮一下", "nice", "noted",
              "謝謝您的耐心解答", "甘溫", "改天再聊", "清楚了", "端午節快樂", "祝大家生意興隆"):
        assert kb.ask(q).band == "small_talk", q
    assert kb.ask("原來如此 那意向書要蓋章嗎").band != "small_talk"
    # Asking who the bot is gets the bot's introduction (not the programme's organisers, nor a
    # registration certificate for 「名字」).
    for q in ("你是誰", "請問妳叫什麼名字"):
        assert kb.ask(q).intent == "small_talk:who", q


def test_small_talk_with_a_slipped_key_is_still_small_talk(kb):
    # A typo of thanks / effort / goodnight that nothing answers is not a question for staff.
    for q, kind in (("謝射", "thanks"), ("謝屑你", "thanks"), ("辛若了", "effort"), ("晚按～", "night"), ("再件", "bye")):
        res = kb.ask(q)
        assert (res.band, res.intent) == ("small_talk", f"small_talk:{kind}"), q
    # An acknowledgement's neighbour is not (「好貴」 is a complaint), nor a question the KB answers.
    assert kb.ask("好貴").band != "small_talk"
    assert kb.ask("謝謝 幾號截止").band != "small_talk"


def test_advice_question_is_not_answered(kb):
    assert not kb.ask("意向書跟合作意向書哪個比較好").matched


def test_bands_follow_thresholds():
    assert calibration.band(calibration.ANSWER_THRESHOLD) == "answer"
    assert calibration.band((calibration.ANSWER_THRESHOLD + calibration.SUGGEST_THRESHOLD) / 2) == "suggest"
    assert calibration.band(calibration.SUGGEST_THRESHOLD - 1e-6) == "fallback"
    assert calibration.SUGGEST_THRESHOLD < calibration.ANSWER_THRESHOLD


def test_suggest_band_offers_three_questions(kb, monkeypatch):
    monkeypatch.setattr(calibration, "ANSWER_THRESHOLD", 1.01)
    monkeypatch.setattr(calibration, "SUGGEST_THRESHOLD", 0.0)
    res = kb.ask("共融最少幾家")
    assert res.band == "suggest" and not res.matched
    assert len(res.suggestions) == 3
    assert res.suggestions[0]["entry_id"] == "fx-gh-integration-count"
    assert all(set(s) == {"entry_id", "question"} for s in res.suggestions)


def test_related_questions_for_quick_replies(kb):
    res = kb.ask("普及員工人數上限多少")
    assert res.entry_id == "fx-gh-employees"
    ids = [r["entry_id"] for r in res.related]
    assert ids and ids[0] == "fx-gh-integration-count"   # the entry's own 'related' first
    assert "fx-gh-employees" not in ids and len(ids) <= 3


def test_followup_switches_track(kb):
    first = kb.ask("數位普及員工人數上限是多少")
    assert first.entry_id == "fx-gh-employees"
    res = kb.ask("那共融呢？", previous_entry_id=first.entry_id)
    assert res.matched and res.entry_id == "fx-gh-integration-employees"


def test_followup_switches_category(kb):
    res = kb.ask("B類呢", previous_entry_id="fx-cl-a-count")
    assert res.matched and res.entry_id == "fx-cl-b-count"


def test_bare_facet_without_context_only_suggests(kb):
    for q in ("B類呢", "共好", "請問今天幾號"):
        res = kb.ask(q)
        assert not res.matched and res.band == "suggest", q
        assert res.suggestions


def test_unnamed_programme_is_the_campaigns(kb):
    # Both programmes answer it; this account recruits for 數位共好 (programs.yaml campaign), so
    # that is the answer, with no programme question and no label.
    res = kb.ask("提案截止時間是什麼時候")
    assert res.entry_id == "fx-gh-deadline" and not res.needs_program_choice
    assert "3月16日" in res.answer and "【" not in res.answer
    # Another campaign programme (data) makes the other entry the default.
    other = KnowledgeBase.load(FIXTURES / "entries", FIXTURES / "seeds", default_program="cluster-2022")
    assert other.ask("提案截止時間是什麼時候").entry_id == "fx-cl-deadline"


def test_hint_settles_programme(kb):
    res = kb.ask("提案截止時間是什麼時候", program_hint="cluster-2022")
    assert res.entry_id == "fx-cl-deadline" and not res.needs_program_choice


def test_explicit_programme_word_overrides_hint(kb):
    res = kb.ask("共好提案截止時間是什麼時候", program_hint="cluster-2022")
    assert res.entry_id == "fx-gh-deadline" and not res.needs_program_choice
    res = kb.ask("群聚最後一天是哪天", program_hint="gonghao-2023")
    assert res.entry_id == "fx-cl-deadline"


def test_edition_not_in_kb_falls_back(kb):
    # the KB covers the 111年 cluster rules only
    assert not kb.ask("112年群聚什麼時候截止").matched
    assert kb.ask("111年群聚什麼時候截止").entry_id == "fx-cl-deadline"


def test_entry_lookup(kb):
    assert kb.entry("fx-cl-a-count").program == "cluster-2022"
    assert kb.entry("nope") is None


def test_api_shape(kb):
    body = kb.ask("A類最少幾家").to_api()
    for key in ("matched", "answer", "entry_id", "score", "suggestions", "sources"):
        assert key in body


def test_reload_keeps_old_index_when_a_file_breaks(tmp_path):
    shutil.copytree(FIXTURES / "entries", tmp_path / "entries")
    kb = KnowledgeBase.load(tmp_path / "entries", FIXTURES / "seeds", strict=True)
    assert kb.ask("A類最少幾家").entry_id == "fx-cl-a-count"

    bad = tmp_path / "entries" / "cluster-2022" / "new.yaml"
    bad.write_text("- id: fx-cl-new\n  program: cluster-2022\n  question: [broken\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as info:
        kb.reload()
    assert any("cannot parse YAML" in e for e in info.value.report.errors)
    assert kb.ask("A類最少幾家").entry_id == "fx-cl-a-count"   # old index still serves
    assert kb.entry("fx-cl-new") is None

    bad.write_text(
        "- id: fx-cl-fee\n  program: cluster-2022\n  question: 數位群聚每家輔導經費上限多少？\n"
        "  alternatives: [群聚經費上限, 群聚補助多少錢, 群聚可以拿多少]\n  answer: 測試：經費上限100萬元。\n"
        "  source: 003 貳 提案類別\n  reviewed: 2026-11-21\n", encoding="utf-8")
    report = kb.reload()
    assert report.ok and report.counts["cluster-2022"] == 4
    assert kb.ask("群聚經費上限是多少").entry_id == "fx-cl-fee"


def test_unresolvable_source_blocks_strict_reload(tmp_path):
    shutil.copytree(FIXTURES / "entries", tmp_path / "entries")
    kb = KnowledgeBase.load(tmp_path / "entries", FIXTURES / "seeds")
    path = tmp_path / "entries" / "general" / "contact.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("002 伍 申請方式", "002 伍 沒有這節"), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError):
        kb.reload()
    assert kb.entry("fx-gen-human") is not None
    # a lenient load skips the bad entry but serves the rest
    lenient = KnowledgeBase.load(tmp_path / "entries", FIXTURES / "seeds", strict=False)
    assert lenient.entry("fx-gen-human") is None and lenient.entry("fx-cl-a-count") is not None


def test_pasted_long_text_is_handled(kb):
    res = kb.ask("請問共融最少幾家？" + "哈" * 5000)
    assert res.band in ("answer", "suggest", "fallback")
    assert kb.ask("😀" * 3000).band == "small_talk"
