"""The programme documents as the FAQ's second tier (knowledge/passages.py): passages cleaned from
the extracted PDFs, quoted when no entry answers, with the source in words; superseded editions
never lead; near-misses stay unanswered; the chat shows what /api/ask answers."""
from __future__ import annotations

import shutil

import pytest

from bot.texts import t
from knowledge.flows import readable_source
from knowledge.passages import EXCERPT_CHARS, readable, read_units, windows
from knowledge.service import KnowledgeBase
from tests.conftest import REPO, SEEDS, joined
from tests.internals import internal_codes, official_links

# Written for these tests from seed 002 (技術特性說明: 服務等級協議 SLA). The knowledge base grows
# while these tests stand, so the documents tier is tested on a knowledge base holding only the
# bot's own entries (knowledge/entries/general): there, only the documents answer it.
ONLY_IN_THE_DOCUMENTS = "系統當機的話有什麼服務水準保證"


@pytest.fixture(scope="module")
def kb():
    return KnowledgeBase.load(REPO / "knowledge" / "entries", SEEDS)


@pytest.fixture(scope="module")
def docs_kb(tmp_path_factory):
    entries = tmp_path_factory.mktemp("entries")
    shutil.copytree(REPO / "knowledge" / "entries" / "general", entries / "general")
    return KnowledgeBase.load(entries, SEEDS)


def test_extracted_pdf_lines_become_readable_items_under_their_headings():
    text = ("捌、執行須知 \n\n二、 輔導期間：自入選公告日起至112年11月30日止。 \n\n12 \n\n"
            "四、 權利與義務： \n\n(一) 須配合參與本計畫所舉辦之各項活動、資料調查與收集、相關實\n\n"
            "地查訪…等事宜，參與狀況將列入年度執行評核。 \n\n辦理成果展示交流活動  \n\n 1.議程 \n\n 2.簽到表 \n")
    units = read_units(text)
    assert units[0] == (("執行須知", "輔導期間"), "輔導期間：自入選公告日起至112年11月30日止。")
    # A sentence cut by the PDF's line width is whole again; the page number is gone.
    assert units[1] == (("執行須知", "權利與義務"),
                        "須配合參與本計畫所舉辦之各項活動、資料調查與收集、相關實地查訪…等事宜，參與狀況將列入年度執行評核。"
                        "辦理成果展示交流活動")
    assert [u for _, u in units[2:]] == ["議程", "簽到表"]
    assert all(len(w) <= 220 for w in windows("很長的句子，" * 80 + "。"))


def test_a_question_only_the_documents_answer_is_quoted_with_its_source(docs_kb):
    result = docs_kb.ask(ONLY_IN_THE_DOCUMENTS)
    assert result.matched and result.band == "answer" and result.tier == "document"
    assert result.entry_id is None and result.audience == "unit"
    assert "SLA" in result.answer or "服務等級協議" in result.answer
    assert result.answer.startswith("計畫文件是這樣寫的：")
    assert len(result.answer) <= EXCERPT_CHARS + 20
    source = readable_source(result.sources[0])
    assert source.startswith("112年數位共好計畫提案作業規範") and not internal_codes(source)
    assert result.to_api()["tier"] == "document"


def test_every_passage_reads_as_plain_words(kb):
    links = official_links()
    for passage in kb.passages.passages:
        shown = readable(passage.text)
        source = readable_source(f"{passage.doc} {passage.headings[-1] if passage.headings else ''}")
        assert not internal_codes(shown, own_links=links) and not internal_codes(source), passage.id


def test_superseded_editions_never_lead_unless_named(kb):
    index = kb._current().index
    # 110年 rules (seed 001): one year before a new proposal; the current editions say two.
    for question, named in (("主動放棄輔導的話 幾年內不能再提案", False), ("舊規定 主動放棄輔導幾年內不能再提案", True)):
        found = kb.retrieve(index, question)
        got = kb.retrieve_passage(found)
        programs = {kb.passages.passage(c.index).program for c in got.candidates}
        assert ("cluster-2021" in programs) is named, question


def test_a_near_miss_is_not_quoted(kb, docs_kb):
    # The documents mention websites, prices and spot checks, but not these.
    for question in ("官網的網域每年續約要多少錢", "抽查的時候會抽幾成的店家"):
        assert not kb.ask(question).matched, question
        assert not docs_kb.ask(question).matched, question


def test_the_chat_quotes_the_document_as_the_api_does(app, chat, docs_kb, monkeypatch):
    monkeypatch.setitem(app.extensions["bot"].services._lazy, "kb", docs_kb)
    body = app.test_client().get("/api/ask", query_string={"q": ONLY_IN_THE_DOCUMENTS}).get_json()
    assert body["matched"] and body["tier"] == "document"
    reply = joined(chat.say(ONLY_IN_THE_DOCUMENTS))
    assert body["answer"] in reply and "來源：112年數位共好計畫提案作業規範" in reply
    assert t("faq.suggest_intro") not in reply


def test_documents_make_words_known_so_a_programme_word_is_not_off_topic(kb):
    # 食品製造 is only in the documents' template (其他食品製造業): a programme question (the
    # campaign's rules answer it), not declined.
    result = kb.ask("醬菜小工廠算食品製造 這樣的店可以嗎")
    assert result.band != "declined" and not (result.intent or "").startswith("declined")
