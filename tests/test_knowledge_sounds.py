"""Homophone slips of the programme's words (knowledge.sounds), with the real analyzer (jieba's
dictionary) and the real knowledge base."""

import pytest

from knowledge.index import default_analyzer
from knowledge.loader import DEFAULT_ENTRIES_DIR, DEFAULT_SEEDS_DIR
from knowledge.service import KnowledgeBase
from knowledge.sounds import SoundCorrector

TERMS = ("意向書", "前後測", "輔導", "報名", "申請", "資格", "數位", "雲端", "訪視", "統編", "稅籍", "補助",
         "收費", "時數", "事項", "使用", "顧問", "系統", "廠商", "查核點")


@pytest.fixture(scope="module")
def sounds():
    return SoundCorrector(TERMS, default_analyzer(), keep=frozenset({"簽", "錢"}))


@pytest.fixture(scope="module")
def kb():
    return KnowledgeBase.load(DEFAULT_ENTRIES_DIR, DEFAULT_SEEDS_DIR if DEFAULT_SEEDS_DIR.is_dir() else None)


@pytest.mark.parametrize("typed, meant", [
    ("意相書可以用傳真的嗎", "意向書可以用傳真的嗎"),
    ("前後側大概多久", "前後測大概多久"),
    ("輔道結束後呢", "輔導結束後呢"),
    ("報明截止了沒", "報名截止了沒"),
    ("線上申清就好嗎", "線上申請就好嗎"),
    ("資各怎麼看", "資格怎麼看"),
    ("數為轉型", "數位轉型"),
    ("雲段備份", "雲端備份"),
    ("統邊寫錯了", "統編寫錯了"),
    ("稅急證明", "稅籍證明"),
    ("手費標準", "收費標準"),
    ("係統壞了", "系統壞了"),                 # the same word once written in Simplified
    ("补主多少", "補助多少"),                 # Simplified text comes back in Traditional
    # voice input: a long term with two misheard characters, or touched at its edge by a word (書上)
    ("第二次的茶盒點是幾號", "第二次的查核點是幾號"),
    ("那個意象書上面要寫什麼", "那個意向書上面要寫什麼"),
])
def test_homophones_of_domain_terms_are_read_as_the_terms(sounds, typed, meant):
    assert sounds.correct(typed) == meant


@pytest.mark.parametrize("text", [
    "公式算不出來",       # 公式 is a word, not 公司
    "實踐大學在哪",       # 實踐 is a word, not 時間
    "我要報名",           # right already
    "收費標準",
    "報明年的可以嗎",     # 明 belongs to 明年
    "這是數位的嗎",       # 是數 would cut through 數位 (not 時數)
    "我是想問一下",       # two changed characters are a different phrase, not 事項
    "大家是用同一套嗎",   # 是 is typed on purpose, not 使用
    "要簽什麼",           # 簽 is a word of the programme, not 錢
    "今天天氣很好",
    "選資管還是資工好",   # 資工 is a word jieba's dictionary lacks (its HMM reads it): not 資 + 共好
])
def test_real_words_are_left_alone(sounds, text):
    assert sounds.correct(text) == text


def test_a_slipped_term_gets_the_terms_answer(kb):
    for typed, meant in (("統邊要寫哪一個", "統編要寫哪一個"), ("稅急登記的店可以嗎", "稅籍登記的店可以嗎"),
                         ("前後側要花多久時間", "前後測要花多久時間")):
        got, want = kb.ask(typed), kb.ask(meant)
        assert (got.band, got.entry_id, got.answer) == (want.band, want.entry_id, want.answer), typed


@pytest.mark.parametrize("text", ["公式背不起來怎麼辦", "明年想去日本玩", "樂透號碼怎麼選", "時間管理有什麼好書"])
def test_off_topic_messages_are_not_pulled_into_scope(kb, text):
    sounds = kb._current().index.sounds
    assert sounds.correct(text) == text
    assert not kb.ask(text).matched


@pytest.mark.parametrize("text", ["好 收刀", "謝謝泥 辛苦了", "早ㄤ 吃飽沒", "3Q 你們好貼心", "感恩 幫了大忙"])
def test_small_talk_of_several_pieces_typed_by_sound_is_small_talk(kb, text):
    assert kb.ask(text).band == "small_talk", text


@pytest.mark.parametrize("text", ["收刀 意向書要蓋章嗎", "謝謝泥 顧問幾號來"])
def test_a_question_beside_small_talk_is_still_a_question(kb, text):
    assert kb.ask(text).band != "small_talk", text
