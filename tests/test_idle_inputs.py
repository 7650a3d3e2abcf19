"""What a person sends when nothing is in progress and the message is not a programme question:
navigation words, keyboard noise, test messages, a greeting before the question, a bare headcount,
"I want to join". Each gets a clear zh-TW reply and a way forward, and none opens a staff ticket."""
from __future__ import annotations

from sqlmodel import select

from bot.models import Conversation
from bot.texts import t
from dialogs.registry import find_command
from knowledge.models import UnansweredQuestion
from tests.conftest import joined


def _tickets(app) -> list[UnansweredQuestion]:
    with app.extensions["bot"].database.session() as session:
        return list(session.exec(select(UnansweredQuestion)).all())


def test_navigation_words_with_nothing_in_progress(app, chat):
    chat.follow()
    for word in ("上一步", "取消", "返回", "重新開始"):
        assert joined(chat.say(word)) == t("core.nav_idle"), word
        assert t("core.menu_faq") in chat.labels()  # the menu is the way forward
    assert _tickets(app) == []


def test_cancel_after_asking_for_a_human_withdraws_it(app, chat):
    chat.follow()
    chat.say("找專人")
    assert joined(chat.say("取消")) == t("faq.handoff_cancelled")
    # The next message is small talk again, not a question handed to staff.
    assert "承辦同仁" not in joined(chat.say("謝謝"))
    assert _tickets(app) == []


def test_noise_tests_and_greetings_open_no_ticket(app, chat):
    chat.follow()
    assert joined(chat.say("asdfgh")) == t("faq.not_understood")
    assert t("core.menu_faq") in chat.labels()
    for text, key in (("測試", "faq.small_talk_test"), ("有人在嗎", "faq.small_talk_test"),
                      ("你好 我想問一下", "faq.small_talk_morning"),
                      ("請問", "faq.small_talk_preface")):
        assert joined(chat.say(text)) == t(key), text
    # Question marks alone: someone lost, shown the way in (the menu), not thanked.
    assert joined(chat.say("？？")) == t("faq.small_talk_lost")
    assert t("core.menu_faq") in chat.labels()
    # A lone number is not a slipped 「3q」: no thanks for 「-3」, and no ticket either; nor for a
    # figure in Chinese numerals (「五十」), which says nothing of what it counts.
    assert t("faq.small_talk_thanks") not in joined(chat.say("-3"))
    assert joined(chat.say("五十")) == t("faq.not_understood")
    assert _tickets(app) == []
    # A sentence in English is a question, whatever its words: it still reaches staff.
    assert "承辦同仁" in joined(chat.say("do you speak Hakka"))
    assert len(_tickets(app)) == 1


def test_a_bare_headcount_or_wanting_to_join_starts_the_check(app, chat):
    for user, text, employees in (("U" + "a1" * 16, "五個人", 5), ("U" + "a2" * 16, "I want to join", None),
                                  ("U" + "a3" * 16, "我們店3個人", 3)):
        owner = chat.as_user(user)
        assert t("faq.flow_start_eligibility") in joined(owner.say(text)), text
        owner.tap(t("core.consent_agree"))
        with app.extensions["bot"].database.session() as session:
            conversation = session.get(Conversation, user)
            assert conversation.flow == "eligibility", text
            assert conversation.data.get("employees") == employees, text
    # Wanting to join a course is not wanting to join the programme.
    assert t("faq.flow_start_eligibility") not in joined(chat.say("我想參加活動"))
    assert _tickets(app) == []


def test_thanks_in_the_middle_of_a_form_is_answered_and_the_question_asked_again(app, chat):
    chat.follow()
    chat.tap(t("core.menu_eligibility"))
    chat.tap(t("core.consent_agree"))
    question = chat.labels()
    texts = chat.say("謝謝")
    assert texts[0] == t("faq.small_talk_thanks")
    assert t("core.faq_answered_resume", flow=t("eligibility.flow_title")) in texts
    assert chat.labels() == question  # the same question, nothing answered for the owner
    with app.extensions["bot"].database.session() as session:
        conversation = session.get(Conversation, chat.user_id)
        assert conversation.flow == "eligibility" and not conversation.data.get("registration")
    assert _tickets(app) == []


def test_typing_ok_on_a_summary_card_confirms_it(chat):
    # 「好」「ok」 are small talk elsewhere; on a summary card they are the confirmation.
    for user, word in (("U" + "b1" * 16, "好"), ("U" + "b2" * 16, "ok")):
        owner = chat.as_user(user)
        owner.say("數位小測驗")
        owner.tap("LINE官方帳號")
        assert "請確認" in joined(owner.say("二十筆"))
        assert "小測驗完成" in joined(owner.say(word)), word


def test_a_question_asked_again_drops_its_opening_words(chat):
    # The eligibility check opens with a one-line welcome; a sticker or 上一步 on the first question
    # repeats the question, not the welcome.
    chat.follow()
    chat.tap(t("core.menu_eligibility"))
    first = joined(chat.tap(t("core.consent_agree")))
    opening = t("eligibility.intro", program="").split("「")[0]
    assert opening in first
    question = chat.labels()
    for again in (chat.send("sticker"), chat.say("上一步")):
        assert opening not in joined(again)
        assert chat.labels() == question


def test_asking_to_change_ones_details_leads_to_the_correction(app, chat):
    # 「我要改電話」 is not a question about the programme office's phone number.
    chat.follow()
    for text in ("我要改電話", "我的地址寫錯了"):
        assert joined(chat.say(text)) == t("faq.flow_offer_correct"), text
        assert chat.labels() == [t("privacy.btn_correct")]
    assert joined(chat.tap(t("privacy.btn_correct"))) == t("privacy.correct_no_fields")  # nothing kept yet
    assert _tickets(app) == []


def test_asking_about_activities_offers_the_persons_own(app, chat):
    # The FAQ says what the programme's activities are; the first button shows the person's sign-ups.
    chat.follow()
    for text in ("有什麼活動", "我要報名課程"):
        chat.say(text)
        assert chat.labels()[0] == t("activities.my_activities_word"), text
    assert joined(chat.tap(t("activities.my_activities_word"))) == t("activities.mine_none")
    assert _tickets(app) == []


def test_not_wanting_to_join_is_not_a_join_and_letter_changes_offer_their_command(app, chat):
    chat.follow()
    chat.say("我不想參加了")
    assert t("faq.offer_eligibility") not in chat.labels()  # 「不想參加」 is the opposite of joining
    chat.say("我想撤回意向書")
    assert chat.labels()[0] == t("letters.menu_withdraw")
    chat.say("意向書簽錯了")
    assert chat.labels()[0] == t("letters.menu_correct")
    assert _tickets(app) == []


def test_thanks_right_after_asking_for_a_human_is_not_the_question(app, chat):
    chat.follow()
    chat.say("找專人")
    texts = chat.say("謝謝")
    assert texts == [t("faq.small_talk_thanks"), t("faq.handoff_still_waiting")]
    assert _tickets(app) == []
    chat.say("你們辦公室在哪裡 可以過去找你們嗎")  # the real question still goes to staff
    assert [q.question for q in _tickets(app)] == ["你們辦公室在哪裡 可以過去找你們嗎"]


def test_an_owner_introducing_themselves_is_greeted_and_shown_the_way_in(app, chat):
    """「你好 我是賣便當的」 asks nothing yet: a greeting back, the eligibility check (carrying a
    headcount the owner mentioned) and the FAQ topics; never a ticket, never "off-topic"."""
    chat.follow()
    # 「我開早餐店」「我在夜市賣雞排」 got an entry sharing their words (the coaching content, the tax
    # registration) as a confident answer.
    for text in ("你好 我是賣滷味的", "鞋店", "早餐店老闆", "我開早餐店", "我在夜市賣雞排"):
        assert joined(chat.say(text)) == t("faq.introduction"), text
        assert chat.labels() == [t("faq.offer_eligibility"), t("core.menu_faq")], text
    chat.say("您好 我是開麵店的 請了4個阿姨")
    chat.tap(t("faq.offer_eligibility"))
    chat.tap(t("core.consent_agree"))
    with app.extensions["bot"].database.session() as session:
        assert session.get(Conversation, chat.user_id).data.get("employees") == 4
    # A question after the introduction is a question (not an introduction).
    assert joined(chat.say("我開早餐店 要簽什麼")) != t("faq.introduction")
    assert _tickets(app) == []


def test_an_advisor_introducing_themselves_is_asked_for_their_question(app, chat):
    from tests.test_faq_trust import _grant  # noqa: PLC0415
    _grant(app, chat.user_id, "advisor")
    assert joined(chat.say("您好 我是新來的顧問小林")) == t("faq.introduction_team")
    assert _tickets(app) == []


def test_consent_takes_a_short_yes_or_no_and_explains_itself_to_a_doubt(app, chat):
    # 「還沒看完」「沒看懂」 refuse nothing; only a whole no does.
    from bot.services import find_user  # noqa: PLC0415

    def consented() -> bool:
        with app.extensions["bot"].database.session() as session:
            return find_user(session, chat.user_id).consent_version is not None

    chat.follow()
    chat.tap(t("core.menu_eligibility"))
    # A doubt gets the notice in one plain sentence, and the same choice again.
    assert chat.say("看不懂")[0] == t("core.consent_plain")
    assert chat.labels() == [t("core.consent_agree"), t("core.consent_decline")]
    # A sentence that is not an answer consents to nothing (「我要…」 is no 「好」).
    assert chat.say("我要問問題")[0] == t("core.consent_pick")
    for text in ("還沒看完", "我沒看到"):
        assert chat.say(text)[0] == t("core.consent_pick"), text
    assert joined(chat.say("我不要了")).startswith(t("core.consent_declined").splitlines()[0])
    assert not consented()
    chat.tap(t("core.menu_eligibility"))
    assert t("core.consent_thanks") in chat.say("好啊")
    assert consented()


def test_what_is_this_with_nothing_in_progress_shows_what_the_bot_does(app, chat):
    chat.follow()
    for text in ("這是什麼?", "什麼意思", "說明？", "看不懂"):
        texts = chat.say(text)
        assert t("core.menu_faq") in chat.labels(), text
        assert "找不到" not in joined(texts), text
    # 「什麼意思」 is not a request for the bot's help: it asks what was meant.
    assert joined(chat.say("什麼意思")) == t("faq.small_talk_lost")
    # Asked as a question, a command that does something is not run (「停止處理？」 asks about it).
    assert find_command("停止處理？") is None and find_command("說明？")[0].name == "help"
    assert _tickets(app) == []


def test_an_owner_on_record_introducing_themselves_gets_the_menu_and_a_statement_is_no_introduction(app, chat):
    from tests.test_letters_chat import owner_with_company  # noqa: PLC0415
    owner_with_company(app, chat)
    assert joined(chat.say("您好 我是小明商行的老闆")) == t("faq.introduction_member")
    assert t("core.menu_faq") in chat.labels()
    # 「我們有在用了」 says something about the tool, not who they are.
    assert joined(chat.say("我們有在用了")) not in (t("faq.introduction"), t("faq.introduction_member"))


def test_the_privacy_notice_is_shown_in_full_once_and_in_one_line_when_asked_again(app, chat):
    chat.follow()
    first = joined(chat.tap(t("core.menu_eligibility")))
    assert t("core.consent_intro") in first
    for message in (chat.send("sticker"), chat.say("台南"), chat.say("顧問會來幾次")):
        text = joined(message)
        assert t("core.consent_intro") not in text and "/privacy" in text
        assert chat.labels()[-2:] == [t("core.consent_agree"), t("core.consent_decline")]


def test_a_contact_detail_on_its_own_says_where_details_go_and_opens_no_ticket(app, chat):
    chat.follow()
    for text, what in (("0933-123-456", "faq.detail_phone"), ("amei@gmail.com", "faq.detail_email"),
                       ("高雄市前鎮區中華五路789號", "faq.detail_address"), ("04595257", "faq.detail_tax_id")):
        assert joined(chat.say(text)) == t("faq.detail_alone", what=t(what)), text
        assert t("privacy.btn_correct") in chat.labels(), text
    assert joined(chat.say("有人嗎～")) == t("faq.small_talk_test")
    assert _tickets(app) == []
