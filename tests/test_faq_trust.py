"""Issue 17: answers for the person asking (audience, counterpart, role), small talk and off-topic
without a staff ticket, capped staff alerts, intents that lead to a conversation with what was
said carried in, the 「常見問題」 topic cards, and who asked in staff's views."""
from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import yaml
from sqlmodel import select

from bot.db import utc_now
from bot.models import Conversation, RoleGrant, User
from bot.texts import t
from knowledge.flows import faq_topics
from knowledge.joining import eligibility_facts
from knowledge.loader import check_knowledge_base
from knowledge.models import UnansweredQuestion
from knowledge.service import FALLBACK_TEXT, KnowledgeBase
from tests.conftest import EVAL, REPO, SEEDS, STAFF_TOKEN, joined

OWNER = "U" + "4" * 32
STAFF = "U" + "5" * 32
FIXTURES = Path(__file__).parent / "fixtures" / "kb"
# Programme questions no entry answers (visit hours and event places are `unstated` entries now).
UNANSWERABLE = ("顧問可以講台語嗎", "輔導時可以帶我的會計一起聽嗎", "輔導的時候我可以錄音嗎")


def _grant(app, user: str, role: str = "staff") -> None:
    with app.extensions["bot"].database.session() as session:
        session.add(RoleGrant(line_user_id=user, role=role, granted_by="test"))


@pytest.fixture(scope="module")
def kb():
    """The repository's knowledge base, built once for the tests that read it (it is not changed)."""
    return KnowledgeBase.load(REPO / "knowledge" / "entries", SEEDS)


def _no_ticket_nor_alert(app, fake_line) -> None:
    """Nothing was handed to staff: no unanswered question stored, no alert sent to staff."""
    assert _questions(app) == []
    app.extensions["bot"].sender.deliver_due()
    assert fake_line.texts_for(STAFF) == []


def _questions(app) -> list[UnansweredQuestion]:
    with app.extensions["bot"].database.session() as session:
        rows = list(session.exec(select(UnansweredQuestion).order_by(UnansweredQuestion.id)).all())
        for row in rows:
            session.expunge(row)
        return rows


# --- the engine: audience, counterpart, role --------------------------------------------------------

def _write_sided_kb(root: Path) -> Path:
    """The fixture KB plus one topic answered for the unit and for the owner."""
    entries = root / "entries"
    for path in (FIXTURES / "entries").rglob("*.yaml"):
        target = entries / path.relative_to(FIXTURES / "entries")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    sided = [
        {"id": "fx-gh-unit-money", "program": "gonghao-2023", "audience": ["unit"], "counterpart": "fx-gh-shop-money",
         "question": "一案的經費級距是多少？", "alternatives": ["提案經費上限多少", "一案可以拿多少錢", "經費級距怎麼分"],
         "answer": "普及A級上限150萬元、B級200萬元（含稅），依帶動家數而定。", "source": "002 伍 申請方式",
         "reviewed": "2026-12-05"},
        {"id": "fx-gh-shop-money", "program": "gonghao-2023", "audience": ["owner"], "counterpart": "fx-gh-unit-money",
         "question": "店家參加可以拿多少錢？", "alternatives": ["我的店可以拿多少錢", "店家有補助多少錢", "參加可以拿到多少"],
         "answer": "店家不是直接拿到現金：由提案單位用計畫經費提供雲端工具和顧問輔導。", "source": "002 伍 申請方式",
         "reviewed": "2026-12-05"},
    ]
    (entries / "gonghao-2023" / "sided.yaml").write_text(yaml.safe_dump(sided, allow_unicode=True), encoding="utf-8")
    return entries


def test_answers_follow_the_askers_side_with_the_counterpart(tmp_path):
    kb = KnowledgeBase.load(_write_sided_kb(tmp_path), FIXTURES / "seeds", strict=True)
    owner = kb.ask("可以拿多少錢")
    assert owner.entry_id == "fx-gh-shop-money" and owner.audience == "owner" and owner.side == "owner"
    assert owner.counterpart["entry_id"] == "fx-gh-unit-money"
    staff = kb.ask("可以拿多少錢", role="staff")
    assert staff.entry_id == "fx-gh-unit-money" and staff.audience == "unit"
    # The question itself speaks from the unit's side, whatever the role.
    assert kb.ask("我們要提案 一案可以拿多少錢").entry_id == "fx-gh-unit-money"
    # The same facts with or without a role (README of the eval sets): both answer the topic.
    assert kb.ask("經費級距怎麼分").audience == "unit"  # only the unit's entry fits: it answers


def test_the_other_sides_answer_of_the_same_topic_is_no_doubt(kb):
    """The margin (calibration) compares the best entry with its best rival; the same topic answered
    for the other side (its counterpart) is not one: it only meant the owner got a menu."""
    from knowledge.index import Candidate
    from knowledge.service import KnowledgeBase

    index = kb._current().index
    ids = [entry.id for entry in index.entries]
    top = next(entry for entry in index.entries if entry.counterpart)
    other = next(entry for entry in index.entries if entry.program == top.program
                 and entry.id not in (top.id, top.counterpart) and not entry.unstated)
    cands = [Candidate(index=ids.index(entry_id), bm25=1.0, fuzzy=0.5, rank_score=1.0)
             for entry_id in (top.id, top.counterpart, other.id)]
    assert index.entries[KnowledgeBase._runner_up(index, cands).index].id == other.id


def test_loader_validates_audience_and_counterpart(tmp_path):
    entries = _write_sided_kb(tmp_path)
    path = entries / "gonghao-2023" / "sided.yaml"
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows[0]["audience"] = ["merchant"]
    rows[1]["counterpart"] = "no-such-entry"
    path.write_text(yaml.safe_dump(rows, allow_unicode=True), encoding="utf-8")
    report = check_knowledge_base(entries_dir=entries, seeds_dir=FIXTURES / "seeds")
    assert any("audience merchant" in e for e in report.errors)
    assert any("counterpart 'no-such-entry'" in e for e in report.errors)


def test_api_role_and_audience(app):
    client = app.test_client()
    body = client.get("/api/ask", query_string={"q": "員工超過9個人還能參加共好嗎", "role": "staff"}).get_json()
    assert body["matched"] and body["side"] == "unit" and body["audience"] in ("owner", "unit", "advisor")
    assert client.get("/api/ask", query_string={"q": "員工上限幾人"}).get_json()["side"] == "owner"
    bad = client.get("/api/ask", query_string={"q": "員工上限幾人", "role": "boss"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "bad_role"


def test_what_the_documents_do_not_say_is_said_without_a_ticket(app, chat):
    # An `unstated` entry (the documents give no pass mark for the 前後測): not a rule the documents
    # state, so not matched, yet the owner reads what they do say, with its source, and no ticket opens.
    q = "能力評量的及格分數是幾分"
    body = app.test_client().get("/api/ask", query_string={"q": q}).get_json()
    assert not body["matched"] and body["band"] == "not_stated" and body["entry_id"] == "gh-shop-pretest-pass"
    assert body["answer"].startswith("文件沒有") and body["sources"]
    reply = joined(chat.as_user(OWNER).say(q))
    assert body["answer"].strip() in reply and "來源：" in reply and "承辦同仁" not in reply
    assert _questions(app) == []
    # The stated neighbour still answers as a rule.
    stated = app.test_client().get("/api/ask", query_string={"q": "前後測是誰要幫我填"}).get_json()
    assert stated["matched"] and stated["band"] == "answer" and stated["entry_id"] == "gh-shop-pretest"


def test_self_description_does_not_drown_the_question(kb):
    plain = kb.ask("顧問至少要來輔導幾次")
    described = kb.ask("我們是美甲店 只有老闆娘跟兩個小妹 平常很忙 顧問至少要來輔導幾次")
    assert plain.matched and described.matched and described.entry_id == plain.entry_id


def test_a_bare_trade_and_a_run_on_message_are_read_as_self_description():
    from knowledge.query import default_classifier
    classify = default_classifier().classify
    # A first clause naming only the trade (「烘焙坊」) describes the asker, like 「我開烘焙坊」.
    q = classify("烘焙坊 顧問說7/31前要導入好 那之後呢")
    assert [c.context for c in q.clauses] == [True, False, False]
    # …but a trade alone, or one asked about, is the question.
    assert not classify("烘焙坊").clauses[0].context
    assert not classify("烘焙坊可以嗎").clauses[0].context
    # Typed without a break: before 「我想問」 is told (even with a 什麼 in it), after it is asked.
    # (The shop named first is a clause of its own too: stop 38.)
    q = classify("我是開機車行的啦我老婆在幫忙顧問說要簽什麼意向書我想問簽了之後要做什麼")
    assert [(c.context, c.norm) for c in q.clauses][-1] == (False, "簽了之後要做什麼")
    assert all(c.context for c in q.clauses[:-1]) and any("意向書" in c.norm for c in q.clauses[:-1])



def test_an_english_word_set_off_by_spaces_stays_in_its_sentence():
    from knowledge.query import default_classifier
    classify = default_classifier().classify
    q = classify("這個 program 的 deadline 是幾號？廠商一直催")
    assert [c.norm for c in q.clauses] == ["這個program的deadline是幾號", "廠商一直催"]
    assert len(classify("I want to join").clauses) == 4  # an English sentence keeps its words apart


def test_the_question_an_owner_marks_as_the_main_one_is_asked_the_rest_told():
    from knowledge.query import default_classifier
    classify = default_classifier().classify
    # 「最想知道」 after two numbered questions: those are told, the one after the marker is asked.
    q = classify("想問兩個 1.顧問要來幾次 2.最重要的是 工具最晚幾月要開始用")
    assert [(c.norm, c.context) for c in q.clauses if not c.context] == [("工具最晚幾月要開始用", False)]
    assert not any(c.fact for c in q.clauses)  # 「1個是…」-style counts in the told part are no shop facts
    # Opening the message, 「最重要的是什麼」 is itself the question.
    assert [c.context for c in classify("最重要的是什麼").clauses] == [False]


def test_what_a_speaker_said_is_the_claim_asked_about_even_in_the_first_person():
    from knowledge.query import default_classifier
    classify = default_classifier().classify
    # 「我們…」 after 「業務說」 is the salesperson's claim, not the owner describing the shop.
    for message in ("我是美甲店 業務說我們這案最少要30家 對嗎", "我是美甲店 業務說 我們這案最少要30家 對嗎"):
        claim = next(c for c in classify(message).clauses if "30家" in c.norm)
        assert not claim.context, message
    # Without a speaker the same words describe the shop.
    assert classify("我們店有5個人 可以報嗎").clauses[0].context


def test_whoever_sent_the_asker_is_not_the_topic(kb):
    # 「老闆叫我問」 is a speaker even though 老闆 is one of the programme's words; the trade question
    # after it is a join question answered from the rules.
    q = kb.classifier.classify("我們在賣助行器 老闆叫我問這種店有在範圍內嗎")
    assert [c.speaker for c in q.clauses] == [False, True, False]
    assert kb.ask("我們在賣助行器 老闆叫我問這種店有在範圍內嗎").intent == "eligibility:industry"
    assert kb.ask("這計畫是不是只給賣吃的店 我們五金行算不算").intent == "eligibility:industry"


def test_a_told_question_with_a_bare_ask_is_about_what_was_told(kb):
    # 「…私有雲 可以嗎」: the clause before 「可以嗎」 starts like a self-description, but nothing
    # else is asked, so its words are the question (not an unknown, off-topic-looking remainder).
    res = kb.ask("我們的方案放在自己機房的私有雲 可以嗎", role="staff")
    assert res.matched and res.entry_id == "gh-private-cloud"


def test_eligibility_facts_from_what_the_owner_said():
    assert eligibility_facts("我們是美甲店 三個人 可以報名嗎") == {"employees": 3}
    assert eligibility_facts("我們早餐店正職員工有11個 還能報嗎") == {"employees": 11}
    assert eligibility_facts("沒有公司登記只有稅籍 可以參加嗎") == {"registration": "tax_only"}
    assert eligibility_facts("我開雞排攤 老婆幫忙 可以報嗎") == {}  # is she on the payroll? the flow asks


# --- chat: small talk, declined, tickets and the alert cap ------------------------------------------

def test_small_talk_and_off_topic_open_no_ticket(app, chat, fake_line):
    _grant(app, STAFF)
    for text in ("謝謝你🙏", "辛苦了～", "早安", "好的收到"):
        reply = joined(chat.say(text))
        assert reply and "\n" not in reply and len(reply) <= 80 and "承辦同仁" not in reply, text
    chat.send("sticker")  # a sticker alone: a nudge, not a question
    weather = joined(chat.say("高雄明天會下雨嗎 我在想要不要出去擺攤"))
    assert "只能回答計畫相關" in weather and t("core.menu_faq") in chat.labels()
    assert "國稅局" in joined(chat.say("我開小吃店 今年的綜所稅跟營業稅要怎麼報比較省?"))
    _no_ticket_nor_alert(app, fake_line)


def test_a_greeting_or_apology_alone_is_small_talk_and_beside_a_question_changes_nothing(app, chat, fake_line, kb):
    # 「午安 打擾了」 opened a staff ticket; 「打擾一下 顧問會來幾次」 got a menu where the bare
    # question gets the answer: words said in passing are not part of the question.
    _grant(app, STAFF)
    for text in ("午安 打擾了", "不好意思打擾了", "您好～打擾一下"):
        reply = joined(chat.say(text))
        assert reply and "承辦同仁" not in reply and len(reply) <= 80, text
    for bare in ("顧問會來幾次", "意向書要寄到哪"):
        plain = kb.ask(bare, role="owner")
        assert plain.band == "answer", bare
        for said in (f"打擾一下 {bare}", f"不好意思，{bare}", f"早安～ 請問{bare}", f"{bare} 謝謝"):
            got = kb.ask(said, role="owner")
            assert (got.band, got.entry_id) == ("answer", plain.entry_id), said
    _no_ticket_nor_alert(app, fake_line)


def test_who_said_it_is_context_but_an_actor_of_the_programme_is_not(kb):
    # 「隔壁阿姨說參加要先付錢 真的嗎」 went to staff: the neighbour's words drowned the claim the
    # owner asks about. A bystander who said it is context; the vendor or the unit saying it is part
    # of the question (「廠商說要換另一套系統給我」 asks what the vendor may do).
    for said, entry in (("隔壁阿姨說參加要先付錢 真的嗎", "gh-shop-cost"),
                        ("我老婆說顧問至少要來三次 真的嗎", "gh-shop-advisor-visits")):
        got = kb.ask(said, role="owner")
        assert (got.band, got.entry_id) == ("answer", entry), said
        assert kb.classifier.classify(said).clauses[0].context, said
    for said in ("廠商說要換另一套系統給我 可以隨便換嗎", "負責我們的公司說要把工作轉給另一家做 這樣可以嗎"):
        assert not kb.classifier.classify(said).clauses[0].context, said
    assert not kb.classifier.classify("可以說一下顧問會來幾次嗎").clauses[0].context


def test_politeness_waiting_and_bare_replies_are_small_talk_not_tickets(app, chat, fake_line, kb):
    # Each of these opened a staff ticket or got a programme answer (「不用了 謝謝」 the free-tool answer:
    # 不用 is a word for free): they are thanks, a pause or a bare reply outside any form.
    _grant(app, STAFF)
    said = {"麻煩了": "thanks", "好 再麻煩你了": "ack", "不用了 謝謝": "ack", "沒有問題了": "ack",
            "算了": "ack", "不用": "ack", "可以": "ack", "你好聰明": "effort", "你會做什麼": "who",
            "晚安 好夢": "night", "我再跟老婆討論": "later", "我去問一下會計": "later", "等我一下": "later",
            "之後再說": "later", "讓我想想": "later", "先去忙了": "later", "搞定了": "ack", "已收到": "ack",
            "好累": "sigh", "今天好忙": "sigh", "最近生意不好": "sigh", "唉": "sigh",
            # someone asking for a parent or the boss says so, and passes the answer on
            "我幫我阿嬤來問看看": "preface", "我會轉告我媽": "later", "老闆叫我來問一下": "preface",
            "謝啦 much appreciated": "thanks", "good night": "night", "晚安 先去睡了": "night"}
    for text, kind in said.items():
        assert kb.ask(text).intent == f"small_talk:{kind}", text
    assert "晚安" not in t("faq.small_talk_later")  # said at any hour
    # A question that says the same words is still a question.
    for text in ("系統好難用 怎麼辦", "生意不好可以參加嗎", "意向書填好了 然後呢"):
        assert kb.ask(text).band != "small_talk", text
    for text in ("麻煩了", "我去問一下會計", "算了", "老闆叫我來問一下", "我會轉告我媽"):
        reply = joined(chat.say(text))
        assert reply and "承辦同仁" not in reply, text
    _no_ticket_nor_alert(app, fake_line)


def test_a_message_sharing_no_word_with_the_programme_is_declined_not_a_ticket(app, chat, fake_line, kb):
    # No entry shares a word with these and they name nothing of the programme: they went to staff.
    _grant(app, STAFF)
    for text in ("今天星期幾", "我老公不理我", "叫外送"):
        assert kb.ask(text).band == "declined", text
    # Asking whether a kind of shop can join is the programme's question, even for a trade no entry
    # names: staff answer it; the owner is never told "only programme questions".
    for text in ("殯葬業可以嗎", "外國人開的店可以嗎", "我開寵物美容 狗狗掉毛很多 可以參加嗎"):
        assert kb.ask(text).band != "declined", text
    # A pet's trouble is not the programme's, even with the shop in it (店裡 weighs like a topic word).
    assert kb.ask("店裡的貓一直掉毛怎麼辦").band == "declined"
    # An everyday trouble beside the programme's own words is the situation a programme question is about.
    assert kb.ask("如果我感冒一個禮拜 系統都沒人登入 會怎樣").band != "declined"
    assert kb.ask("我感冒了怎麼辦").band == "declined"
    # …but an app or a till named beside it does not make a language app a programme question.
    assert kb.ask("想學韓文 有推薦的app嗎").band == "declined"
    # An owner who takes the programme for a loan, a contest or a giveaway asks about the programme;
    # a bank loan is still not the programme's.
    for text in ("這個是不是貸款 要還錢嗎", "得獎的店家有獎金嗎", "送的平板壞了找誰"):
        assert kb.ask(text).band != "declined", text
    assert kb.ask("銀行貸款利率多少").band == "declined"
    assert kb.ask("幫我家的狗取個好聽的名字").band == "declined"
    # 「繳稅的登記」 is the owner's word for the tax registration the rules ask for, not a tax return.
    assert kb.ask("我賣滷味 沒開公司 只有那個繳稅的登記 這樣也可以弄那個雲嗎").band != "declined"
    # A child's choice of university is not the programme's (and 資工好 is not a slip of 共好).
    assert kb.ask("我女兒要考大學 選資管還是資工好").band == "declined"
    assert kb.ask("電腦一直跳出防毒視窗").band == "declined"
    # 數位卷 (the owners' usual slip) names the voucher programme: not the campaign's deadline.
    assert kb.ask("數位卷現在還能申請嗎 今年截止是哪天").entry_id != "gh-shop-join-deadline"
    # 「續約會不會」 is no date (約會), and renewal is the programme's question.
    assert kb.ask("明年續約會不會比較便宜").band != "declined"
    assert "只能回答計畫相關" in joined(chat.say("今天星期幾啊"))
    _no_ticket_nor_alert(app, fake_line)


def test_staff_alerts_are_capped_per_person(app, chat, fake_line):
    _grant(app, STAFF)
    owner = chat.as_user(OWNER)
    for text in UNANSWERABLE:
        assert "承辦同仁" in joined(owner.say(text))
    rows = _questions(app)
    assert len(rows) == 3 and rows[1].alert_at == rows[2].alert_at > rows[0].alert_at
    sender = app.extensions["bot"].sender

    def staff_texts(expected: int, **due) -> list[str]:
        # The app's own pump may be sending a due alert right now (deliver_due then skips it).
        deadline = time.monotonic() + 10
        while len(fake_line.texts_for(STAFF)) < expected and time.monotonic() < deadline:
            sender.deliver_due(**due)
            time.sleep(0.02)
        return fake_line.texts_for(STAFF)

    first = staff_texts(1)
    assert len(first) == 1 and UNANSWERABLE[0] in first[0]
    time.sleep(0.3)
    assert len(fake_line.texts_for(STAFF)) == 1  # the other two wait for the window's end…
    # …then go out as one message listing both.
    texts = staff_texts(2, now=utc_now() + timedelta(minutes=6))
    assert len(texts) == 2 and UNANSWERABLE[1] in texts[1] and UNANSWERABLE[2] in texts[1] and "共 2 題" in texts[1]
    # Another person is not held back by this one's cap.
    chat.as_user("U" + "6" * 32).say(UNANSWERABLE[0])
    assert len(staff_texts(3)) == 3


def test_staff_see_who_asked_not_a_code(app, chat, live_server):
    _grant(app, STAFF)
    from companies.models import Company, CompanyMember

    with app.extensions["bot"].database.session() as session:
        company = Company(name="好味道小吃", program_id="gonghao-2023")
        session.add(company)
        session.flush()
        session.add(CompanyMember(company_id=company.id, line_user_id=OWNER, role="owner"))
        session.add(User(line_user_id="U" + "7" * 32, display_name="林老闆"))
    chat.as_user(OWNER).say(UNANSWERABLE[0])
    chat.as_user("U" + "7" * 32).say(UNANSWERABLE[1])
    listing = joined(chat.as_user(STAFF).say("/回覆"))
    assert "好味道小吃" in listing and "林老闆" in listing and "gonghao" not in listing
    body = requests.get(f"{live_server.url}/staff/unanswered", headers={"Authorization": f"Bearer {STAFF_TOKEN}"},
                        timeout=5).json()
    assert {q["asker"] for q in body["questions"]} == {"好味道小吃", "林老闆"}


# --- chat: intents lead to conversations ---------------------------------------------------------------

def test_can_i_apply_is_answered_from_the_rules_with_what_the_owner_said(app, chat):
    # No entry answers a chicken-stall owner's 「可以報嗎」: the campaign's rules do (programs.yaml),
    # with the headcount they gave, and the check is offered with it filled in.
    texts = joined(chat.say("我開雞排攤 老婆幫忙 三個人 可以報嗎"))
    assert "9人（含）以下" in texts and "員工 3 人" in texts and "烘焙餐飲" in texts
    assert texts.count("提案作業規範") == 1  # one document named once in the source line
    chat.tap(t("faq.offer_eligibility"))
    chat.tap(t("core.consent_agree"))
    with app.extensions["bot"].database.session() as session:
        conversation = session.get(Conversation, chat.user_id)
        assert conversation.flow == "eligibility" and conversation.data.get("employees") == 3
    assert _questions(app) == []


def test_a_headcount_question_is_answered_and_the_check_offered_with_it(app, chat):
    reply = joined(chat.say("我那間小吃部請了十二個阿姨 還能報名嗎"))
    assert "9人" in reply and "來源：" in reply
    chat.tap(t("faq.offer_eligibility"))
    verdict = joined(chat.tap(t("core.consent_agree")))
    assert "12 人" in verdict
    # The twelve people were carried in: the 數位普及 campaign's verdict comes at once, without
    # asking the headcount again (12 > 9 settles it), and the record says twelve.
    assert t("eligibility.verdict_title_ineligible") in verdict and t("eligibility.ask_employees") not in verdict
    with app.extensions["bot"].database.session() as session:
        last = session.get(Conversation, chat.user_id).memory["eligibility_last"]
    assert last["verdict"] == "ineligible"


def test_an_answer_offers_the_check_and_the_letter(chat):
    chat.say("我們是美甲店 三個人 員工人數上限是幾人？可以參加嗎")
    assert t("faq.offer_eligibility") in chat.labels()
    chat.tap(t("faq.offer_eligibility"))
    assert t("core.consent_agree") in chat.labels()  # the check starts (consent first)
    chat.say("意向書要怎麼簽")
    assert t("core.menu_letter") in chat.labels()


# --- 「常見問題」 ------------------------------------------------------------------------------------

def test_faq_topics_are_cards_of_answerable_questions(chat):
    chat.say("常見問題")
    carousel = next(m for m in chat.last if m["type"] == "flex")["contents"]
    assert carousel["type"] == "carousel" and len(carousel["contents"]) >= 4
    labels = [a["label"] for a in chat.actions()]
    assert "員工人數上限是幾人？" in labels
    assert "來源：" in joined(chat.tap("員工人數上限是幾人？"))


def test_every_topic_question_gets_a_confident_answer_for_its_side(kb):
    roles = {"owner": "owner", "unit": "staff", "advisor": "advisor"}
    for side, topics in faq_topics().items():
        assert 3 <= len(topics) <= 12, side  # a carousel holds 12 cards
        for title, questions in topics:
            assert 3 <= len(questions) <= 4 and len(title) <= 40
            for question in questions:
                assert kb.ask(question, role=roles[side]).band == "answer", (side, question)


# --- the chat path is as good as /api/ask --------------------------------------------------------------

def _sample(name: str, every: int) -> list[dict]:
    rows = [json.loads(line) for line in (EVAL / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[::every]


# owner_probes41 is written by southern owners in Taiwanese characters (阮, 會當), 59 mixes English
# words into Mandarin and 60 is in the letter register (敬請告知…之…為何): read by the normaliser the
# chat shares with /api/ask. 110 is dictated (no punctuation, no spaces: the chat greets what reads as
# an introduction) and 112 formal.
@pytest.mark.parametrize("name,every", [("faq_dev.jsonl", 6), ("faq_roles_dev.jsonl", 5), ("owner_probes41.jsonl", 8),
                                        ("owner_probes59.jsonl", 9), ("owner_probes60.jsonl", 9),
                                        ("owner_probes110.jsonl", 7), ("owner_probes112.jsonl", 9)])
def test_chat_carries_the_api_answer(app, chat, name, every):
    client = app.test_client()
    for index, row in enumerate(_sample(name, every)):
        body = client.get("/api/ask", query_string={"q": row["q"]}).get_json()
        reply = joined(chat.as_user("U" + f"{index:032d}").say(row["q"]))
        if body["matched"] or body["band"] in ("small_talk", "declined", "not_stated"):
            assert body["answer"].strip() in reply, row["id"]
        else:
            assert body["answer"] != FALLBACK_TEXT or "承辦同仁" in reply or "你是想問" in reply or \
                t("faq.flow_start_eligibility") in reply or "點下面" in reply, row["id"]


def test_an_owner_asking_what_the_shop_gets_hears_the_shops_side_first(kb):
    # Not the unit's budget tiers as the answer: what the shop gets (and that no per-shop sum is set).
    for question in ("可以拿多少錢", "我們這種小店可以拿多少錢", "參加的話我可以領多少"):
        result = kb.ask(question, role="owner")
        assert result.audience == "owner", question
        assert not result.answer.startswith("每案經費上限"), question
    money = kb.entry("gh-shop-money").answer
    assert money.index("不是發現金") < money.index("150萬")


def test_a_bound_asked_for_stays_one_word(kb):
    # jieba's dictionary prefers 最/多幾家 (a rare 多几家) to 最多/幾家, so 「最多幾家」 lost the
    # bound it asks for and 「共融…最多幾家」 got a menu (knowledge/domain_dict.txt lists 最多).
    from knowledge.index import default_analyzer
    from knowledge.normalize import normalize_text

    analyzer = default_analyzer()
    for text in ("最多幾家", "共融最多幾家"):
        assert "最多" in analyzer.words(normalize_text(text)), text
    assert kb.ask("顧問來3次是最少還是最多", role="owner").entry_id == "gh-shop-advisor-visits"


def test_the_name_of_the_shops_tool_does_not_outweigh_the_question(kb):
    # 「POS」 weighed as a rare term (9 vs 工具 1.3), so 「…換掉POS可以嗎」 matched no entry well enough;
    # it weighs as an ordinary word now (synonyms.yaml generic), without making a brand question a
    # programme question or a renewal-price question an answer about existing customers.
    assert kb.ask("用到一半想換掉POS可以嗎", role="owner").entry_id == "gh-shop-vendor-change"
    assert not kb.ask("POS機推薦哪個牌子", role="owner").matched
    assert kb.ask("POS明年續約要多少錢", role="owner").band == "not_stated"


def test_stop_31_readings_of_context_small_talk_and_decline(kb):
    # 「輔具行這邊」 names the shop and 「老闆叫我問一下」 who sent the asker: both context.
    query = kb.classifier.classify("輔具行這邊 老闆叫我問一下 這個數位共好到底是政府哪個單位在辦的")
    assert [c.norm for c in query.clauses if not c.context] == ["這個數位共好到底是政府哪個單位在辦的"]
    # Checking with the vendor is the owner coming back later: small talk, no ticket.
    assert kb.ask("好喔 我再跟業者確認").band == "small_talk"
    # Whether part-timers count in the headcount is the eligibility rule, not a labour question...
    assert kb.ask("打工的工讀生要算進員工人數嗎").band != "declined"
    # ...while a part-timer's wage still is one.
    assert kb.ask("工讀生時薪多少").band == "declined"


def test_waiting_a_slip_and_cheering_are_small_talk_not_answers_or_tickets(app, chat, fake_line, kb):
    # Each of these got a programme answer (「傳錯了」 the rule that proposals cannot be withdrawn,
    # 「收到 我晚點再看」 the deadline), a menu, or opened a staff ticket (「沒關係」「不好意思傳錯」).
    _grant(app, STAFF)
    said = {"收到 我晚點再看": "ack", "好的 那我等顧問聯絡": "ack", "我等業者打給我": "later",
            "那我再等等看": "later", "我下次再來問": "later", "沒關係": "ack", "真的假的": "ack", "哇 好棒": "ack",
            "我只是看看": "ack", "抱歉 打錯了": "oops", "傳錯了": "oops", "不好意思傳錯": "oops", "按錯了": "oops",
            "加油": "effort", "有空再聊": "bye", "老闆在嗎": "test",
            # thanks passed on from someone else is thanks
            "我媽媽說謝謝你們喔": "thanks", "老闆說辛苦了": "effort",
            # called away by a customer: a goodbye, not a question about customers
            "先這樣 客人來了": "bye", "我先去忙了 有客人": "later"}
    for text, kind in said.items():
        assert kb.ask(text).intent == f"small_talk:{kind}", text
    for text in ("LINE怎麼改頭貼", "今天幾號", "幫我算一下 123加456"):
        assert kb.ask(text).band == "declined", text
    # The same words in a question stay a question.
    for text in ("顧問要等多久才會聯絡", "意向書資料打錯了怎麼改", "前後測總共有幾題"):
        assert kb.ask(text).band != "small_talk", text
    assert kb.ask("數位能力評量前後測總共有幾題").band != "answer"  # no entry states a number of questions
    for text in ("沒關係", "不好意思傳錯"):
        reply = joined(chat.say(text))
        assert reply and "承辦同仁" not in reply, text
    _no_ticket_nor_alert(app, fake_line)


def test_whether_the_tool_is_in_use_is_not_the_eligibility_check(kb):
    # 「他們怎麼知道我有沒有在用」 (four fresh sets asked it) got 「怎麼用小幫手檢查資格」: the 用 of
    # 在用 matched any 用 in an entry.
    for text in ("他們怎麼知道我有沒有在用 是看什麼數字", "他們怎麼知道我到底有沒有在用系統"):
        assert kb.ask(text).entry_id != "gen-check-eligibility", text
    # 「問卷一年要填幾次」 asks for a count the survey entry never states.
    assert kb.ask("問卷一年要填幾次").band != "answer"
    assert kb.ask("顧問總共要來幾次").band == "answer"  # the visits entry states 3次
    for text in ("老闆早 今天也開工囉", "好喔 我再問顧問"):
        assert kb.ask(text).band == "small_talk", text
    # Recommendations and the family one asks before deciding are not programme questions.
    assert kb.ask("台中有什麼好拍的咖啡廳").band == "declined"
    for text in ("多謝 我再問我兒子看看", "好的 我再問問看"):
        assert kb.ask(text).band == "small_talk", text


def test_the_kind_of_answer_asked_for_reads_normalised_numbers_and_demonstratives(kb):
    from knowledge.normalize import normalize_text

    vocab = kb._current().index.vocab
    # 「哪一天」 is normalised to 哪1天 (numerals before a counter become digits): still a when.
    assert "when" in vocab.intents_of(normalize_text("一定要在哪一天以前裝好"))
    assert "qty" in vocab.intents_of("一次要上多久")  # a duration is a quantity as well as a time
    assert "list" not in vocab.intents_of("我店裡那些客人資料可以拿回來嗎")  # 那些 points, it does not ask
    # intents.yaml patterns are written as people type (「下一次」「一次」); they match the normalised text.
    assert kb.classifier.classify("我下一次訪視是什麼時候").flows == ("visits",)
    assert kb.classifier.classify("幫了一個大忙").small_talk == "thanks"


def test_a_count_or_time_slot_no_entry_states_is_not_answered_confidently(kb):
    # 「幾份」 asks for a count the survey entry does not give; 「哪個時段」 a time it does not give.
    assert kb.ask("問卷總共要填幾份").band != "answer"
    assert kb.ask("電訪都是哪個時段打來").band != "answer"
    assert kb.ask("數位券要去哪裡領").band != "answer"  # a place to pick it up: the documents name none
    # How long a survey takes, a fee for the advisor's visit, the service's night hours: the entries
    # name the step, not the detail.
    for message in ("問卷一次要花多少時間", "顧問來要不要給他車馬費", "客服假日有人回嗎"):
        assert kb.ask(message).band != "answer", message
    # An amount per shop is not stated (budgets are per case); whether money goes to the shop is.
    assert kb.ask("一間店可以分到幾萬現金").entry_id == "gh-shop-amount-per-shop"
    assert kb.ask("補助的錢會匯給店家嗎").entry_id == "gh-shop-money"
    # ...and how often spot checks come is stated (不定期).
    assert kb.ask("抽查多久一次").entry_id == "gh-shop-spot-check"
    # ...while 「幾份」 answered in the documents' own counter (1式) still is.
    assert kb.ask("共好的雲端服務數據分析要交幾份").band == "answer"


def test_a_message_of_several_questions_is_answered_by_its_last_one(kb):
    # The worry and the hearsay come first; the question is the last clause.
    asked = kb.ask("有個業務來店裡推銷 說政府會出錢 我怕被騙 這是政府哪個單位辦的")
    assert asked.entry_id == "gh-program-organizers" and asked.matched
    assert kb.ask("I want to join").entry_id != "gh-who-applies"  # English words are not clauses of their own
    # ...but not when the last clause alone points away from the whole message (a review on Google
    # is not the programme's personal data).
    assert kb.ask("Google上有人給我一星負評 可以叫他刪掉嗎").band == "declined"
    # A remark after the question (「不要一直來啦」) asks nothing: the clause with the question word does.
    told = kb.ask("我是開機車行的 顧問到底要來幾次 我們店很小 不要一直來啦")
    assert told.entry_id == "gh-shop-advisor-visits" and told.matched
    # A last clause with no topic of its own (「真的可以嗎」) asks about what was said before it: the
    # earlier clause is the question, even when it has no question word…
    checked = kb.ask("業務說只要先簽三四家 其他的之後再補就好 真的可以嗎")
    assert checked.entry_id == "gh-shop-join-deadline" and checked.matched
    # …while a last clause with its own topic is the question (the tool's cost is not the answer).
    assert kb.ask("雲端收銀的月費 可以拿來抵稅嗎").entry_id != "gh-solution-categories"
    # 「提前幾天」 asks (幾 after 提前), unlike 「前幾天」 (a few days ago).
    assert kb.classifier.classify("抽測會先通知嗎 提前幾天").clauses[-1].asks
    assert not kb.classifier.classify("我前幾天有打電話 沒人接").clauses[-1].asks


def test_complaints_confusion_and_asides_get_a_kind_line_not_an_answer_or_a_ticket(app, chat, fake_line, kb):
    # Each of these got a programme answer (「你是AI嗎」 the voucher's SaaS tools, 「感覺不錯耶」 the showcase,
    # 「我看不懂你在說什麼」 the check's results) or opened a ticket (「是喔 好吧」「ㄏㄏ」).
    _grant(app, STAFF)
    said = {"拜託快點回我": "impatient", "回答好慢": "impatient", "你們很煩欸": "impatient", "你是AI嗎": "who",
            "你會講台語嗎": "who", "我看不懂你在說什麼": "lost", "太複雜了": "lost", "有沒有簡單一點的說法": "lost",
            "是喔 好吧": "ack", "感覺不錯耶": "ack", "聽起來很麻煩": "sigh", "ㄏㄏ": "laugh", "了解 那我先填看看": "ack"}
    for text, kind in said.items():
        assert kb.ask(text).intent == f"small_talk:{kind}", text
    assert kb.ask("你喜歡什麼").band == "declined"
    assert "reminders" in kb.ask("我不想收到通知").flows  # the person's reminders are one tap away
    for text in ("系統太複雜了 顧問會教嗎", "問卷回答好慢會怎樣"):
        assert kb.ask(text).band != "small_talk", text
    assert "找專人" in joined(chat.say("拜託快點回我"))
    _no_ticket_nor_alert(app, fake_line)


def test_a_choice_between_the_tracks_is_answered_but_a_brand_is_not(kb):
    # The documents settle 普及 or 共融 (one shop: 普及); they do not recommend a brand.
    assert kb.ask("普及跟共融 我該選哪個").entry_id == "gh-tracks-overview"
    assert kb.ask("POS哪家比較好 該選哪個").band != "answer"
    # English words owners type: 「vs」 says nothing of its own, 「cash」 is 現金.
    assert kb.ask("普及vs共融 差在哪").entry_id == "gh-tracks-overview"
    assert kb.ask("參加可以領cash嗎").entry_id == kb.ask("參加可以領現金嗎").entry_id


def test_phones_the_line_app_and_marketplaces_are_declined_unless_the_programme_is_named(kb):
    # Which phone to buy, how the LINE app works, a marketplace's own support: not the programme's.
    for message in ("iphone跟三星哪支比較好", "LINE的相簿怎麼用", "蝦皮被停權怎麼辦", "FB廣告預算要抓多少比較有效"):
        assert kb.ask(message).band == "declined", message
    # ...the same words in a programme question keep it one (a trip abroad closing the shop is about
    # the tool's use, not travel).
    assert kb.ask("下個月我要出國兩週 店會關 系統使用量會有影響嗎").band != "declined"
    assert kb.ask("想出國去玩 推薦哪裡").band == "declined"
    assert kb.ask("我在蝦皮有賣場 可以參加共好嗎").matched
    assert kb.ask("共好的課程會教LINE官方帳號怎麼用嗎").matched


# Stop 32's readings of how owners write, each answered by the entry that states the fact.
READ_AS_ASKED = [
    # 「講白話一點」 asks how to answer, not what: beside a question it is left out
    ("數位共好到底要幹嘛 簡單講就好", "gh-program-purpose"),
    # 「我記得…」 is the claim to confirm (even a wrong one: the answer gives the documents' figure)
    ("我記得顧問至少要來五次 對嗎 還是我記錯了", "gh-shop-advisor-visits"),
    ("我記得是9月底前要把工具裝好 沒記錯吧", "gh-tool-deadline"),
    # 「我可以帶員工去嗎」 after the question: the clause before it, with its question word, answers
    ("顧問的課程總共有幾堂 我可以帶員工去嗎", "gh-shop-activities"),
    # a figure the documents do give is confirmed by its entry
    ("工具是不是要在7月底前導入好", "gh-tool-deadline"),
    ("顧問是不是要來3次", "gh-shop-advisor-visits"),
    # 「8家嗎」 asks for the count as 「幾家」 does; 「那邊」 says nothing of its own
    ("110年群聚最少要8家嗎", "cl21-definition"),
    ("群聚那邊一年開幾次會", "cl22-meetings"),
    # a monthly price the documents leave to each proposal: said so, not the money-for-shops answer;
    # who pays the monthly fee is stated
    ("這套系統每個月要多少錢", "gh-shop-tool-monthly-price"),
    ("月費誰付", "gh-shop-cost"),
    # the letter register of formal messages: no word of it matched the owners' phrasings
    ("敬請告知顧問每年須到本店輔導之次數為何", "gh-shop-advisor-visits"),
    ("敬請說明貴會之聯絡電話為何", "gh-contact-phone"),
    # English words beyond the common ones, inside Mandarin and alone
    ("提案單位會幫我們上架到哪兩個 platform", "gh-platform-listing"),
    ("can the vendor outsource the coaching to another company", "gh-shop-subcontract"),
    # coming to the shop is not the name of a shop: 「…可以ㄇ」 here is no join question
    ("顧問一定要來店裡嗎 全部用視訊可以ㄇ", "gh-shop-advisor-visits"),
]


@pytest.mark.parametrize("message,entry_id", READ_AS_ASKED)
def test_the_question_is_read_as_the_owner_asks_it(kb, message, entry_id):
    assert kb.ask(message).entry_id == entry_id


def test_the_calibration_fitter_reads_a_question_as_ask_does(kb):
    # The fitter's features are the ones ask() computes: the letter register is read first there too
    # (on the raw text, 「敬請說明貴會之聯絡電話為何」 matched nothing).
    from knowledge.fit_calibration import collect
    row = {"set": "t", "id": "t1", "q": "敬請說明貴會之聯絡電話為何", "expect": [["2553-3988", "25533988"]]}
    [got] = collect(kb, [row])
    assert got["eok"] and got["ef"] == kb.ask(row["q"]).debug["features"]


def test_asking_for_plainer_words_alone_is_small_talk(kb):
    # No ticket for 「講白話一點」 alone.
    assert kb.ask("可以講白話一點嗎").band == "small_talk"


def test_a_last_question_asking_a_detail_keeps_the_first_and_insurance_is_declined(kb):
    # A last question asking a sum of the first is not passed over for the first alone.
    assert kb.ask("簽了可以中途退出嗎 要賠多少錢").entry_id != "gh-shop-quit"
    # Insurance is not the programme's.
    assert kb.ask("店面要保什麼險 火險夠不夠").band == "declined"


def test_a_figure_to_confirm_that_no_entry_states_is_not_confirmed(kb):
    # The owner names a length, a frequency or a date the documents never give: the entry about the
    # step does not answer it; the unstated one (or nothing) does.
    for message in ("顧問每次至少要陪我們3個小時對不對", "前測是不是要在6月底前做完", "請顧問一小時多少錢",
                    "顧問來店裡通常會待多久", "當標竿店家可以拿到獎金嗎"):
        answered = kb.ask(message)
        assert answered.band != "answer", (message, answered.entry_id)


def test_which_software_to_start_with_is_advice(kb):
    assert not kb.ask("POS跟會員系統 小店應該先導哪一個").matched


def test_stop_34_readings_of_trades_crashes_categories_and_yes_no_questions(kb):
    # A trade named first without 店 (民宿, 小農, 美甲, 寵物美容) is the shop, told, not the topic.
    for message in ("溫泉民宿 顧問一年要來幾次", "民宿 顧問一年要來幾次", "寵物美容 顧問一年要來幾次", "種菜的小農 顧問一年要來幾次"):
        assert kb.classifier.classify(message).clauses[0].context, message
    # A message the knowledge base knows almost no word of is not answered by its last clause alone
    # (「怎麼處理」 matched the personal-data deletion entry).
    assert not kb.ask("冷氣一直滴水漏水 怎麼處理").matched
    # An app that crashes is the phone's trouble, a POS that crashes the tool's.
    assert kb.ask("IG一直閃退怎麼辦").band == "declined"
    assert kb.ask("POS系統一直當掉怎麼辦").entry_id == "gh-shop-stability-sla"
    # A recommendation is advice; which of the programme's categories a case falls in is a rule.
    assert not kb.ask("推薦好用的收據本").matched
    assert kb.ask("我們是咖啡廳跟烘焙坊組的群聚 應該選哪一種群聚型態").entry_id == "cl22-cluster-types"
    # A short yes-no question that the best entry covers word for word is answered, not offered as a
    # menu; one naming a year no programme covers is not.
    assert kb.ask("我有兩間店 兩間都可以參加群聚嗎").entry_id == "cl22-same-owner"
    assert not kb.ask("114年還有數位共好計畫嗎").matched
    # The letter register's and mainland words
    assert kb.ask("本計畫隸屬於哪一個上位計畫").entry_id == "gh-program-basis"


def test_a_wage_a_fee_per_visit_or_a_compensation_no_entry_states_is_not_answered(kb):
    # The entry about visits or the youth team names the step, not the pay: not a confident answer.
    for message in ("專案顧問一個月領多少薪水", "顧問來一次要收多少", "成果展要自己出攤位費嗎",
                    "資料外洩的話政府會賠嗎", "青年協作團的薪資是多少"):
        answered = kb.ask(message)
        assert not answered.matched, (message, answered.entry_id)
    # ...while the visits themselves are still answered.
    assert kb.ask("顧問一年要來幾次").entry_id == "gh-shop-advisor-visits"


def test_the_law_the_personal_data_is_collected_under_is_a_programme_question(kb):
    # 「法律」 alone is legal advice; the programme's own collection of personal data is not.
    assert kb.ask("你們收集個人資料是根據哪一條法律").matched
    assert kb.ask("房東要漲房租 合法嗎").band == "declined"


def test_a_form_of_address_is_neither_the_question_nor_a_ticket(app, chat, fake_line, kb):
    # 「小姐」 matched the contacts entry (a 林小姐) and 「老闆好」 the personal-data items; 「you are
    # great」 opened a ticket; 「拍謝 打擾了」 was declined as off-topic.
    _grant(app, STAFF)
    for text in ("了解 謝謝小姐", "小姐你好", "老闆好", "you are great", "拍謝 打擾了", "謝謝大哥", "好那個 感謝小姐喔"):
        assert kb.ask(text).band == "small_talk", text
    # at the start or the end of a question it is left out; a husband or a named contact stays
    assert kb.ask("小姐 我想問顧問一年來幾次").entry_id == "gh-shop-advisor-visits"
    assert kb.ask("顧問一年來幾次啊小姐").entry_id == "gh-shop-advisor-visits"
    from knowledge.normalize import drop_address
    assert drop_address("我先生的店可以參加嗎") == "我先生的店可以參加嗎"
    assert drop_address("聯絡人是林小姐嗎") == "聯絡人是林小姐嗎"
    for text in ("小姐你好", "you are great"):
        reply = joined(chat.say(text))
        assert reply and "承辦同仁" not in reply, text
    _no_ticket_nor_alert(app, fake_line)


def test_an_everyday_trouble_another_company_or_a_cash_handout_is_declined(kb):
    # Each was answered from an entry sharing a word (冷氣 with the personal-data rights, 計程車 with the
    # target industries, 中華電信 with the programme's phone) or opened a ticket.
    for text in ("我的冷氣壞了 要找誰修", "wifi密碼忘了", "中華電信客服電話幾號", "可以幫我叫計程車嗎",
                 "普發一萬什麼時候發", "客人給我負評怎麼辦", "可以陪我聊天嗎", "運費怎麼算"):
        assert kb.ask(text).band == "declined", text
    # the same words in a programme question stay one
    assert kb.ask("客人打電話訂便當 這樣算電子商務嗎").band != "declined"
    assert kb.ask("冷氣壞了那天店沒開 系統沒登入會被說沒在用嗎").band != "declined"


def test_a_printer_a_childs_school_a_shop_name_are_declined_but_data_passed_on_is_asked(kb):
    for text in ("發票機一直卡紙怎麼辦", "女兒英文成績很差 要不要補習", "幫我取一個滷味攤的店名"):
        assert kb.ask(text).band == "declined", text
    # the programme's passing on of personal data or a pirated tool is its question, not tax or legal advice
    assert kb.ask("我的資料會不會被轉給國稅局").band != "declined"
    assert kb.ask("廠商的系統如果是盜版的 我會被告嗎").band != "declined"
    assert kb.ask("好吧 先相信你們").band == "small_talk"


def test_a_dictated_run_on_message_is_read_as_its_question(kb):
    # Voice input: no punctuation; the form of address, 「就是想問說」 and the reason after the question
    # (「因為我白天都…」) are told, not asked.
    for said in ("老師我想問一下那個顧問到底會來幾次啊因為我白天要顧店",
                 "小姐我想問一下顧問總共會來幾次啊因為我店裡只有我一個人然後很忙"):
        assert kb.ask(said).entry_id == "gh-shop-advisor-visits", said
    clauses = kb.classifier.classify("顧問會來幾次啊因為我很忙").clauses
    assert len(clauses) == 2 and clauses[-1].context and not clauses[0].context
    from knowledge.normalize import drop_address
    assert drop_address("老師什麼時候會來") == "老師什麼時候會來"  # the advisor, not a form of address


def test_an_off_topic_matter_with_an_asking_verb_is_declined_in_chat_without_a_ticket(app, chat, fake_line):
    # In the chat, 「申請」 used to offer the eligibility check and hand the loan question to staff.
    _grant(app, STAFF)
    reply = joined(chat.say("想申請青創貸款 利率多少"))
    assert t("faq.decline_finance") in reply and "承辦同仁" not in reply
    _no_ticket_nor_alert(app, fake_line)


def test_an_off_topic_matter_with_an_asking_verb_is_still_declined(kb):
    # 「申請」「報」 start the eligibility check, but a tax return, a loan or a phone to buy is not the
    # programme's (each opened a staff ticket).
    for text in ("綜所稅要怎麼報 扶養可以報幾個", "想申請青創貸款 利率多少", "想換手機 iPhone跟三星哪台好"):
        assert kb.ask(text).band == "declined", text
    assert kb.ask("我有請兩個工讀生 可以申請嗎").band != "declined"


def test_a_shops_everyday_business_is_declined_not_a_ticket(kb):
    # Each opened a staff ticket or offered programme questions as a menu.
    for text in ("房屋稅什麼時候繳", "員工一直遲到怎麼辦", "下週颱風會來嗎", "要不要加盟手搖飲", "電費太貴怎麼辦",
                 "怎麼做菜單比較好看", "隔壁施工很吵", "我想學做咖啡拉花", "身分證換發要帶什麼"):
        assert kb.ask(text).band == "declined", text
    # the same words in a programme question keep it one
    for text in ("颱風天顧問還會來嗎", "共好的課程有教怎麼做電子菜單嗎", "員工請假的話系統誰來用"):
        assert kb.ask(text).band != "declined", text


def test_stop_36_readings_of_wants_plans_taiwanese_declines_and_the_day(app, chat, fake_line, kb):
    # A want after an adverb, a thing to be sure of and a plan in time are the question, not the
    # asker describing the shop (the shop named alone before them still is).
    for message, told in (("洗衣店 我只想要簡訊通知客人來拿衣服 這樣算導入嗎", [True, False, False]),
                          ("我們店下個月要搬到隔壁鎮 顧問還會來嗎", [False, False]),
                          ("我要確定這個計畫真的有政府核定 有文號嗎", [False, False])):
        assert [c.context for c in kb.classifier.classify(message).clauses] == told, message
    assert kb.ask("洗衣店 我只想要簡訊通知客人來拿衣服 這樣算導入嗎").entry_id == "gh-shop-tool-mature"
    # 「甘有符合」 (Taiwanese for 有沒有符合) asks whether the shop can join: the campaign's rules answer.
    assert kb.ask("我是賣豆花的 只有阮兩個人 按呢甘有符合").intent == "eligibility:general"
    # A tablet's own trouble named by its brand and a tax deduction are declined, where to ask said.
    assert kb.ask("我的iPad又當機了").intent == "declined:off_topic"
    assert kb.ask("開店買設備的錢可以抵稅嗎").intent == "declined:tax"
    # How the day goes is small talk: a kind line, never a programme answer or a ticket.
    _grant(app, STAFF)
    for text, kind in (("今天也要開店囉", "ack"), ("終於收店了 好累", "sigh"), ("客人好多 累死了", "sigh")):
        assert kb.ask(text).intent == f"small_talk:{kind}", text
        reply = joined(chat.say(text))
        assert reply and "承辦同仁" not in reply, text
    _no_ticket_nor_alert(app, fake_line)


def test_stop_37_readings_of_earlier_funding_last_sentences_and_unstated_counts(kb):
    # An agency of the programme's note named with 補助/輔導 tells of earlier funding: the overlap
    # rule answers, naming the agency; the agency named alone is still a question about it.
    for text, agency in (("我們茶行去年有拿客委會的補助 會不會衝突", "客委會"),
                         ("數發部今年也有輔導我們做網站 這樣還能報嗎", "數發部")):
        result = kb.ask(text)
        assert result.intent == "eligibility:prior", text
        assert f"「{agency}」" in result.answer and "不得重複參加" in result.answer, text
    assert kb.ask("商業司是什麼單位").intent != "eligibility:prior"
    # A scheme's name is not the shop's industry: 「雲世代產業數位轉型」 does not make a join question.
    assert not (kb.ask("雲世代產業數位轉型是什麼時候開始的").intent or "").startswith("eligibility")
    # A story first, then one sentence whose condition and question are split by a comma: the
    # sentence is the question.
    story = "上次那家系統常常登不進去，店裡一整天不能結帳😫 這次的系統如果常當機，有什麼保障嗎？"
    assert [c.joined for c in kb.classifier.classify(story).clauses][-2:] == [False, True]
    assert kb.ask(story).entry_id == "gh-shop-stability-sla"
    # A frequency of anything and a count of devices must be stated to be answered.
    for text in ("雲端系統的資料多久會備份一次", "這套系統可以同時登入幾台手機"):
        assert not kb.ask(text).matched, text


def test_the_programme_asked_about_is_not_the_one_compared_with(kb):
    from knowledge.normalize import normalize_text
    # A programme named as the measure (「跟數位券的…差不多」) is not asked about: the campaign's is.
    assert kb.asked_programs(normalize_text("意向書跟數位券的申請單差不多吧")).programs == set()
    # With two named, the one in the last clause that names one and asks is the question's ...
    query = kb.classifier.classify("共好那邊要上購世代 那群聚也要上嗎")
    assert kb.asked_programs(query.norm, query.clauses).programs == {"cluster-2022"}
    # ... unless that clause only remarks (「共好都沒問」): then both stay.
    query = kb.classifier.classify("群聚的表單為什麼要寫族群 共好都沒有")
    assert kb.asked_programs(query.norm, query.clauses).programs >= {"cluster-2022", "gonghao-2023"}
    # Taking part in the SMEA's other programme this year is its own rule, said first in the seed's words;
    # comparing with it is not earlier funding.
    answer = kb.ask("我們今年有參加數位群聚 還可以同時報這個嗎").answer
    assert answer.startswith("您提到的是中企處的計畫") and "當年度不得同時接受" in answer
    assert kb.ask("群聚好像都要觀光特色 我做水電修繕的 共好這行業可以參加嗎").intent == "eligibility:industry"


def test_a_question_about_two_programmes_is_answered_by_either(kb):
    # Naming 共好 and 群聚 together (「是不是都…」) is no miss for an entry of one of them: the one
    # that answers its part answers.
    result = kb.ask("共好和群聚的顧問輔導是不是都做到11月底")
    assert result.matched and result.entry_id in {"gh-coaching-period", "cl22-period"}
    assert "11月30日" in result.answer


def test_stop_37_asks_that_are_not_join_questions_and_dates_an_entry_must_state(kb):
    # 「可以報到多少錢」 asks an amount: the unit's budget answers, not the shop's eligibility.
    result = kb.ask("我們共融案帶40家 這樣可以報到多少錢", role="staff")
    assert result.matched and not (result.intent or "").startswith("eligibility")
    # 「這樣可以提嗎」 after what was told asks about what was told (a machine room of one's own).
    result = kb.ask("我們的方案放在自己公司的機房 這樣可以提嗎", role="staff")
    assert result.matched and "不納入考量" in result.answer
    # Last year's 群聚 stays 群聚's own rule; only taking part this year is the same-year rule.
    result = kb.ask("我去年參加過數位群聚 今年還能再加入群聚嗎")
    assert result.entry_id and result.entry_id.startswith("cl22-") and result.intent != "eligibility:prior"
    # When applications open is a date the entry must state: how to apply does not answer it.
    assert not kb.ask("數位券今年什麼時候開放申請").matched


def test_stop_38_told_shop_details_do_not_drown_the_question(kb):
    # Capital, insurance, years in business and 規模 describe the shop in a join question: the
    # rules answer it with the headcount told.
    for text, staff in (("我在台中開麵包坊 資本額150萬 正職三個 這樣有符合共好的資格嗎", "3 人"),
                        ("我開髮廊快八年了 連我四個人 都有保勞健保 這種規模能參加共好嗎", "4 人")):
        result = kb.ask(text)
        assert (result.intent or "").startswith("eligibility") and staff in result.answer, text
    # A headcount told before a question with its own topic describes the shop: the topic answers.
    result = kb.ask("我們早餐店4個員工 顧問說期末前要拍系統截圖 要拍哪些畫面")
    assert result.matched and "系統截圖" in result.answer
    # The trade in a self-description does not pull a short question to the entries listing trades.
    assert kb.ask("我開早餐店 計畫到幾月").entry_id == "gh-coaching-period"
    # Asking for data after the end is the three-year follow-up, not whether the tool stays.
    assert kb.ask("計畫十一月結束以後 隔年還會有人找我要資料嗎").entry_id == "gh-followup-3years"
    # Sharing one platform is the 共融 track's common platform.
    result = kb.ask("我們做共融的 聽說各店要共用一個平台 那是什麼")
    assert result.matched and "共通平台" in result.answer


def test_stop_38_run_on_messages_and_simplified_forms_that_are_also_traditional(kb):
    from knowledge.normalize import normalize_text
    # 几/云/种/后 are Traditional characters too, but an owner typing them means 幾/雲/種/後;
    # OpenCC's phrases keep the Traditional words.
    assert normalize_text("共好分哪几种") == "共好分哪幾種"
    assert normalize_text("系统放在公有云上可以吗") == "系統放在公有雲上可以嗎"
    assert normalize_text("之后再说") == "之後再說" and normalize_text("客廳的茶几") == "客廳的茶几"
    # Typed without a break: the shop named first is a clause of its own; a question particle or a
    # condition's 的話 ends a clause.
    clauses = kb.classifier.classify("我開早餐店顧問要來幾次").clauses
    assert [(c.norm, c.context) for c in clauses] == [("我開早餐店", True), ("顧問要來幾次", False)]
    assert kb.ask("我開早餐店顧問要來幾次").entry_id == "gh-shop-advisor-visits"
    assert [c.norm for c in kb.classifier.classify("可以用視訊嗎還是要來店裡").clauses] == ["可以用視訊嗎", "還是要來店裡"]
    assert kb.ask("普及的話他們會幫我導幾個工具").matched
    # A shop that only says 我們店 is no self-description to cut off.
    assert len(kb.classifier.classify("我們店一定要去嗎").clauses) == 1


def test_trade_words_leave_the_self_description_with_their_noun_unless_trades_are_asked(kb):
    words = kb.join_words
    # The noun goes with the trade (「開店」 left behind would read as a topic word).
    assert words.without_trades("我開早餐店5個員工", asked="顧問要來幾次") == "我開5個員工"
    # A question about trades or industries keeps the trade: it is what is asked about.
    assert words.without_trades("我開民宿", asked="住宿業算在裡面嗎") == "我開民宿"
    assert kb.ask("我開民宿的 住宿業也算在裡面嗎").entry_id == "gh-target-industries"
    # A headcount told beside the trade: both readings apply (the figures join the self-description,
    # then the trade leaves it), so the question's own topic answers confidently.
    assert kb.ask("我做美甲一個人顧店 成果展我非去不可嗎").score > 0.9
    # 嗎啡 is a word, not a question particle followed by more words.
    assert len(kb.classifier.classify("醫生開的嗎啡藥可以報嗎").clauses) == 1


def test_stop_39_run_on_messages_break_after_a_bare_shop_and_spoken_particles(kb):
    # A message that opens on the bare shop name reads as 「花店 簽了…」 with the space: the shop is
    # a clause of its own when what follows opens a clause (the asker, the programme's people…).
    clauses = kb.classifier.classify("麵包坊我的會員資料會被拿去做什麼").clauses
    assert [(c.norm, c.context) for c in clauses][0] == ("麵包坊", True)
    assert kb.ask("麵包坊我的會員資料會被拿去做什麼").matched
    assert kb.ask("洗衣店顧問說要看我的使用紀錄 是看什麼").matched
    # A shop word that is the subject asked about stays in the question.
    assert len(kb.classifier.classify("在偏鄉開店會比較有機會嗎").clauses) == 1
    # Spoken particles end a dictated clause: what follows 「…檢查啊」 is told, not asked.
    assert [c.norm for c in kb.classifier.classify("會不會來突擊檢查啊我禮拜二公休").clauses] == \
        ["會不會來突擊檢查啊", "我禮拜二公休"]
    assert kb.ask("他們會不會沒講就跑來店裡突擊檢查啊我週二公休怕被當成沒營業").entry_id == "gh-shop-spot-check"
    # 耶 after a told fact keeps it with the question (「…一模一樣的方案耶顧問才發現…」).
    assert len(kb.classifier.classify("我本來就在用同一套耶這樣會不會有問題").clauses) == 1
    # A connective starts a clause anywhere; so does the owner describing themselves after asking.
    assert [c.norm for c in kb.classifier.classify("工具最晚幾號前要裝好因為我下個月要出國").clauses] == \
        ["工具最晚幾號前要裝好", "因為我下個月要出國"]
    assert [c.norm for c in kb.classifier.classify("期末是不是要上台報告我很怕講話").clauses] == \
        ["期末是不是要上台報告", "我很怕講話"]
    assert kb.ask("簽完以後會不會常常收到你們的活動訊息我平常很怕被洗版").entry_id == "gh-privacy-purpose"
    # 「要我每天…」: 我 is the object of 要, not a new clause.
    assert len(kb.classifier.classify("為什麼顧問一直要我每天都打開系統").clauses) == 1
    assert [c.norm for c in kb.classifier.classify("普及跟共融差在哪我看不懂我是開小吃店的").clauses] == \
        ["普及跟共融差在哪", "我是開小吃店的"]  # 「我看不懂」 said in passing is dropped
    # The spoken 「那個」 re-opens the topic after what the owner told.
    assert [c.norm for c in kb.classifier.classify("我下午都在備料那個顧問到底要來幾次").clauses] == \
        ["我下午都在備料", "那個顧問到底要來幾次"]
    assert kb.ask("我賣滷味的下午都在備料那個顧問到底要來幾次").entry_id == "gh-shop-advisor-visits"
    # Who said it starts the claim asked about.
    assert [c.norm for c in kb.classifier.classify("我在花蓮開麵店業務說偏鄉會加分").clauses] == \
        ["我在花蓮開麵店", "業務說", "偏鄉會加分"]
    # A self-description that runs on into the programme and ends asking to be confirmed (…吧) is
    # no introduction to greet.
    assert kb.ask("我開花店去年參加過鎮上的數位群聚輔導今年換一個群聚應該沒差吧").band != "small_talk"
    assert kb.ask("我開早餐店").band == "small_talk"
    # Being featured (「會上新聞嗎」) is about the showcase, not the news of the day.
    assert kb.ask("我們店如果做得好會上新聞嗎").band != "declined"
    assert kb.ask("今天有什麼新聞").band == "declined"
    # 「真的假的」 asks: a self-description followed by it is a question, not an introduction.
    result = kb.ask("我在山上開雜貨店很偏僻 聽說偏鄉的店有加分真的假的")
    assert result.band != "small_talk" and result.entry_id == "gh-shop-rural-bonus"


def test_stop_39_formal_questions_about_dates_and_quoted_terms(kb):
    # 「起訖為何」 asks when the period starts and ends (not what it is); 起訖 alone is no topic word.
    assert kb.ask("煩請告知輔導期間之起訖為何").entry_id == "gh-coaching-period"
    assert kb.ask("輔導期間起迄").entry_id == "gh-coaching-period"
    # Where a quoted term was read (規範中的「…」) is not the topic: the term is.
    assert kb.ask("想請教簡章中的「資料自主權」指的是什麼").entry_id == "gh-data-sovereignty"
    # Proof of use is the system's own log, not the advisor's visit photos.
    assert kb.ask("拍照給顧問就能證明我們有在用系統了嗎").entry_id == "gh-shop-usage-records"
    # 「以便…」 says why the writer asks, not what.
    assert kb.ask("敬請提供貴會之電子郵件，以便本店日後寄送資料").entry_id == "gh-contact-email-fax"


def test_a_dictated_self_description_that_asks_is_answered_in_chat_not_greeted(app, chat, fake_line, kb):
    # In the chat an introduction gets a greeting; 「…真的假的」 at the end of a dictated
    # self-description asks, so the owner gets the answer (and staff hear nothing).
    _grant(app, STAFF)
    said = "我在山上開雜貨店很偏僻聽說偏鄉的店有加分真的假的"
    reply = joined(chat.say(said))
    assert kb.entry("gh-shop-rural-bonus").answer.strip()[:30] in reply
    _no_ticket_nor_alert(app, fake_line)
