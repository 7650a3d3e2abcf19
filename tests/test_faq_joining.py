"""Issue 17 round 3: 「可以報嗎」 answered from the campaign's rules with the facts the owner gave
(knowledge/joining.py), what the documents do not state as its own outcome (``unstated`` entries,
band ``not_stated``), questions asking for a condition an entry does not state, and short questions
staying the campaign's."""
from __future__ import annotations

import yaml
from sqlmodel import select

from bot.texts import t
from knowledge.models import UnansweredQuestion
from knowledge.service import KnowledgeBase
from tests.conftest import REPO, SEEDS, joined

import pytest

ENTRIES = REPO / "knowledge" / "entries"
PROGRAMS = REPO / "programs" / "programs.yaml"


@pytest.fixture(scope="module")
def kb():
    return KnowledgeBase.load(ENTRIES, SEEDS)


# --- 「可以報嗎」 -------------------------------------------------------------------------------------

def test_a_join_question_gets_the_essentials_with_what_the_owner_said(kb):
    general = kb.ask("我賣滷味 跟太太兩個人顧 還有請一個正職 只有稅籍登記 這樣報得了嗎")
    assert general.matched and general.tier == "rules" and general.entry_id is None
    assert general.intent == "eligibility:general" and "eligibility" in general.flows
    assert "9人（含）以下" in general.answer and "「只有稅籍登記」，這樣的登記可以" in general.answer
    assert "烘焙餐飲" in general.answer  # the trade, next to the example of the industry direction
    over = kb.ask("我們麵包店員工有十五個 想參加可以嗎")
    assert "15 人，超過 9 人" in over.answer and "3 家" in over.answer  # the rule's own message, and its exception
    industry = kb.ask("我開洗衣店 這種行業有在範圍內嗎")
    assert industry.intent == "eligibility:industry" and "民生內需" in industry.answer and "不是限定清單" in industry.answer
    prior = kb.ask("去年有接受客委會的數位輔導 今年還可以報名嗎")
    assert prior.intent == "eligibility:prior" and "客家委員會" in prior.answer and "不得重複" in prior.answer
    # The shop's trade in the asking clause is the asker's, not a second topic (「我的修鞋店還能…」).
    named_shop = kb.ask("去年商業司有來輔導過 我的修鞋店今年還可以報名嗎")
    assert named_shop.intent == "eligibility:prior" and "不得重複" in named_shop.answer
    # The shop named alone before the question (「汽車保養廠」) and a headcount of its trade's people
    # (師傅, 學徒) are the shop's facts, not other topics.
    crew = kb.ask("汽車保養廠 師傅跟學徒共12個 這樣是不是不行")
    assert crew.intent == "eligibility:general" and "12 人，超過 9 人" in crew.answer
    # 「人數會不會超過」 asks the same thing (it went to staff): the headcount rule with the figure given.
    for text, said in (("我們五個人 會不會超過", "員工 5 人：在9人（含）以下"),
                       ("洗衣店 正職11個 人數有沒有超過", "11 人，超過 9 人"),
                       ("我們12個人 聽說有例外可以放寬？", "12 人，超過 9 人")):
        over = kb.ask(text)
        assert over.tier == "rules" and said in over.answer, text
    # 「有機會參加嗎」 and a statement ending in 「也算吧」 ask the same (both went to staff or a menu).
    for text in ("我開眼鏡行 有機會參加嗎", "我們沒有公司登記 只有稅籍 這樣應該也算吧"):
        asked = kb.ask(text)
        assert asked.tier == "rules" and "9人（含）以下" in asked.answer, text
    assert kb.ask("繳交期限可以放寬嗎").tier != "rules"  # no shop's facts: not a join question


def test_join_answers_are_the_programme_data_not_code(tmp_path):
    # Another programme year: a different headcount limit and industry direction in programs.yaml.
    data = yaml.safe_load(PROGRAMS.read_text(encoding="utf-8"))
    elig = data["programs"]["gonghao-2023"]["eligibility"]
    next(r for r in elig["rules"] if r["code"] == "employees_over_limit")["max"] = 5
    elig["summary"]["industries"]["direction"] = "觀光服務產業"
    other = tmp_path / "programs.yaml"
    other.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    kb = KnowledgeBase.load(ENTRIES, SEEDS, programs_file=other)
    assert "5人（含）以下" in kb.ask("我們早餐店三個人 可以參加嗎").answer
    assert "觀光服務產業" in kb.ask("我開書店 這一行有在範圍內嗎").answer


def test_not_every_can_i_is_a_join_question(kb):
    # Asking how or where to apply, or whether something else is allowed, is another question.
    for question in ("我想參加 要去哪裡報名", "廠商說下個月系統要漲價 這樣可以嗎", "如果我不想給個資 還可以參加嗎",
                     "數位群聚的成員可以參加嗎"):
        assert kb.ask(question).tier != "rules", question


# --- what the documents do not state ----------------------------------------------------------------

def test_a_question_the_documents_do_not_answer_gets_what_they_do_say(kb):
    result = kb.ask("沒照規定用系統 店家會被罰款嗎")
    assert not result.matched and result.band == "not_stated" and result.entry_id == "gh-shop-no-use-penalty"
    assert "沒有寫店家的罰則" in result.answer and result.sources
    assert kb.ask("前後測的分數要幾分才算及格").band == "not_stated"
    # The neighbouring questions keep their real answers: an unstated entry answers only what it is for.
    assert kb.ask("前後側?").entry_id == "gh-shop-pretest"
    assert kb.ask("成果展示活動要做什麼").band != "not_stated"


def test_an_entry_that_does_not_state_what_is_asked_does_not_answer(kb):
    # The checkpoints entry states 35 %, but not of the spot checks: 「抽幾%」 is not its question.
    assert not kb.ask("後台抽查會抽百分之幾的店").matched
    assert kb.ask("意向書提案的時候要先附幾成").matched  # 10 %: stated, next to 意向書
    # Hours: the visits entry states how many visits, not how long or at what time.
    assert not kb.ask("顧問每次輔導要待多久 幾點會到").matched
    assert kb.ask("我們提案的deadline是幾點", role="staff").entry_id == "gh-proposal-deadline"  # 17:00, beside 截止
    assert kb.ask("失業補助去哪裡申請").band == "declined"  # another agency's benefit, not the programme


def test_a_short_question_stays_the_campaigns(kb):
    result = kb.ask("課有幾堂")
    assert result.program == "gonghao-2023" and "【" not in result.answer


def test_the_chat_shows_what_the_documents_say_and_offers_staff_without_a_ticket(app, chat):
    question = "沒照規定用系統 店家會被罰款嗎"
    body = app.test_client().get("/api/ask", query_string={"q": question}).get_json()
    assert body["matched"] is False and body["band"] == "not_stated"
    reply = joined(chat.say(question))
    assert body["answer"].strip() in reply and "來源：" in reply
    assert t("faq.not_stated_staff") in chat.labels()

    def questions() -> list:
        with app.extensions["bot"].database.session() as session:
            return list(session.exec(select(UnansweredQuestion)).all())

    assert questions() == []
    chat.tap(t("faq.not_stated_staff"))  # the owner wants the unit's own word: now it is a ticket
    rows = questions()
    assert len(rows) == 1 and rows[0].question == question


def test_an_introduction_with_the_shops_facts_hears_what_they_mean_for_joining(kb):
    # No question yet, but the facts the rules depend on: the essentials with those facts.
    told = kb.ask("哈囉 我們是鞋店 員工11個")
    assert told.intent == "eligibility:general" and "11 人，超過 9 人" in told.answer
    assert "您是「只有稅籍登記」" in kb.ask("我們是文具店 只有稅籍").answer
    # An introduction without such facts is not a join question.
    assert kb.ask("你好 我是賣滷味的").intent != "eligibility:general"
    # ...nor a question for any entry: a greeting back (the API says so too), with the check offered.
    for text in ("我開早餐店", "我在夜市賣雞排"):
        said = kb.ask(text)
        assert said.intent == "small_talk:introduction" and not said.matched and said.flows == ["eligibility"], text
    assert kb.ask("我開早餐店 要簽什麼").band == "answer"


def test_join_question_wordings_of_stop_31(kb):
    # 「資格嗎」 (the 有 dropped on a phone) asks to join; 「會影響資格嗎」 asks about a change, not to join.
    typed = kb.ask("我補習班 老師加行政一共6個人 資格嗎")
    assert typed.tier == "rules" and "員工 6 人：在9人（含）以下" in typed.answer
    assert kb.ask("輔導期間我搬店換地址 會影響資格嗎").tier != "rules"
    # Whether the trade is in scope: the clauses describing the trade are the shop, not other topics.
    for text in ("我們是牙材行 做牙科材料批發 客人都是診所不是一般民眾 會不會因為行業不對就被刷掉",
                 "我開瑜伽教室，老師都是按堂外聘的，正職只有櫃台兩個，有沒有限定行業 運動教室會不會不算"):
        asked = kb.ask(text)
        assert asked.intent == "eligibility:industry" and "不是限定清單" in asked.answer, text
    # ...but a clause naming a tool is what is asked about (「會員集點的系統」 is a solution question).
    assert kb.ask("我開飲料店 想要那種會員集點的系統 有在範圍內嗎").tier != "rules"


def test_an_entry_that_answers_the_rest_of_a_join_question_wins_over_the_rules(kb):
    # 「已經在用他們家的POS 還能參加嗎」: the rule for an existing customer (new purchases only) is the
    # answer, not the general eligibility list.
    asked = kb.ask("我本來就在用他們家的POS了 這樣還能參加嗎")
    assert asked.tier == "entry" and "新購" in asked.answer
    assert "eligibility" in asked.flows  # the check is still offered beside it


def test_a_shop_named_by_its_kind_asking_for_a_chance_is_a_join_question(kb):
    # 「家具行…還有機會嗎」 was declined as off-topic: no trade list has 家具行, but a shop asks to join.
    asked = kb.ask("家具行沒在你們列的那幾行裡面 還有機會嗎")
    assert asked.tier == "rules" and "不是限定清單" in asked.answer
    # Part-timers in the headcount are the eligibility rule's question, not a labour one.
    assert kb.ask("員工數是只算正職還是連工讀生都要算進去").band != "declined"


def test_an_elderly_owners_long_join_question_is_answered_from_the_rules(kb):
    # Voice-typed, with a life story first: 「三十幾冬」 is an age, not a question (幾 after 十), the
    # young man who came is who said it, 「甘有資格」 asks to join; 「有沒有機會」 from a named shop too.
    long = ("你好 我在庄腳開雜貨店開三十幾冬了 店裡就我跟我太太還有一個兒子在顧 前幾天有一個少年仔來講有一個政府的"
            "數位共好計畫 我想請問一下像我們這種小小的店甘有資格 人數是有規定要幾個人以下才可以嗎")
    query = kb.classifier.classify(long)
    assert query.clauses[0].context  # 我在莊腳開雜貨店開三十幾冬了
    answered = kb.ask(long)  # the headcount rule it asks about (from the rules or its entry)
    assert answered.matched and "9人（含）以下" in answered.answer and "eligibility" in answered.flows
    tailor = kb.ask("您好 我是做裁縫的 改褲腳做旗袍做了四十幾年 想請教一下這個計畫是不是只有給年輕人開的店 "
                    "政府說的行業是以哪一種行業為方向的 我們裁縫店有沒有機會")
    assert tailor.intent == "eligibility:industry" and "民生內需" in tailor.answer


def test_whether_a_trade_is_among_the_examples_is_a_join_question(kb):
    # 「這種算他們舉例的行業嗎」 was declined as off-topic: the examples are the industry direction.
    asked = kb.ask("我開理髮廳的 客人都是阿伯阿公來剃頭刮鬍子 這種算他們舉例的行業嗎")
    assert asked.intent == "eligibility:industry" and "美容美髮" in asked.answer


def test_more_ways_owners_ask_whether_the_shop_can_join(kb):
    for text, said in (("我们是开药妆店的 员工加我老婆一共8个人 这样会不会超过人数限制", "員工 8 人：在9人（含）以下"),
                       ("手機配件行 就我跟我弟兩個人顧 這麼小的店也收嗎", "9人（含）以下"),
                       ("花店啦 其實就我一個人顧 沒請人 也可以報這個共好計畫?", "9人（含）以下"),
                       ):
        asked = kb.ask(text)
        assert asked.tier == "rules" and said in asked.answer, text
    # The headcount entry (with the 共融 exception) answers this one itself; the check is offered beside it.
    exception = kb.ask("我們服飾店員工12個 聽說共融那邊可以破例收9人以上的?")
    assert exception.matched and "9人" in exception.answer and "共融" in exception.answer
    trade = kb.ask("婚紗工作室有在範圍內嗎 還是只收吃的喝的")  # the rules or the industries entry
    assert trade.matched and "民生內需" in trade.answer


def test_asking_for_a_parent_with_the_shops_facts(kb):
    # 「我幫我媽問 她在市場口賣麵…沒開公司只有去國稅局報稅」: her shop, two helpers, a tax registration.
    asked = kb.ask("我幫我媽問 她在市場口賣麵 請兩個阿姨幫忙 沒開公司只有去國稅局報稅那種 這樣能參加數位共好嗎")
    assert asked.tier == "rules" and "員工 2 人" in asked.answer and "只有稅籍登記" in asked.answer


def test_an_owner_unsure_of_their_digital_skills_hears_whom_the_campaign_is_for(kb):
    # 「不會用電腦」 is not a second topic: the join answer adds programs.yaml's target (002 叁).
    target = yaml.safe_load(PROGRAMS.read_text(encoding="utf-8"))["programs"]["gonghao-2023"]["eligibility"]["summary"]["target"]
    worried = kb.ask("我媽都不會用手機 她的小吃攤可以參加嗎")
    assert worried.tier == "rules" and target in worried.answer
    assert target not in kb.ask("我的小吃攤可以參加嗎").answer


def test_an_agency_that_helped_with_digital_work_is_earlier_coaching(kb):
    # 「原民會有幫我們做網站」 tells of earlier coaching: the answer names that agency's rule.
    helped = kb.ask("去年原民會有幫我們弄網站 今年還可以參加嗎")
    assert helped.intent == "eligibility:prior" and "原住民族委員會" in helped.answer


def test_whether_different_trades_may_group_together_is_a_track_question(kb):
    # 跨業共融型 is a 共融 rule an entry states, not whether this shop can join.
    grouped = kb.ask("我們花店跟麵包店想一起組 不同行業合作可以嗎")
    assert grouped.tier != "rules" and grouped.intent != "eligibility:general"


def test_when_to_apply_a_tool_in_scope_and_a_tax_office_registration_are_not_declined_or_the_rules(kb):
    # 「什麼時候開始可以報名」 asks a date; 「這種點餐工具有在範圍內嗎」 asks about tools, not the trade.
    for message in ("什麼時候開始可以報名", "這種點餐工具有在範圍內嗎"):
        assert kb.ask(message).tier != "rules", message
    # 「國稅局那邊有登記」 is the shop's tax registration, not a tax question to decline.
    registered = kb.ask("我們在市場擺攤 只有去國稅局登記過 這樣算數嗎")
    assert registered.band != "declined" and registered.matched


def test_asking_for_a_friend_or_in_english_what_kind_of_shop_can_join(kb):
    # A friend's shop (「下次可以叫他報嗎」) and 「what kind of shop can join」 are join questions.
    assert kb.ask("我朋友開早餐店 有六個員工 可以叫他來報名嗎").intent.startswith("eligibility:")
    assert kb.ask("what kind of business can join? 我朋友開花店").intent == "eligibility:industry"
