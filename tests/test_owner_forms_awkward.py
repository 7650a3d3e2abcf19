"""Every form an owner fills in chat, driven the way owners really type: a sticker, a photo,
「上一步」, a typo, a number in words (「五個人」), an impossible value (-3 or 999 employees, a date in
the past, an invalid 統一編號) and 「謝謝」 in the middle. Each gets a clear zh-TW reply with a way
forward (the question again, with its buttons), the answers already given stay, and no staff ticket
is opened. Real HTTP to the fake Messaging API; real database."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select

from bot.models import Conversation
from bot.timeutil import TAIPEI
from companies.models import Company
from knowledge.models import UnansweredQuestion
from tests.conftest import joined
from tests.test_activities import ADVISOR, _activity, _join, person, signed_company
from tests.test_letters_chat import make_company

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200 + b"\xff\xd9"


def _state(chat) -> tuple[str | None, str | None, dict]:
    with chat.runtime.database.session() as session:
        row = session.exec(select(Conversation).where(Conversation.line_user_id == chat.user_id)).first()
    if row is None:
        return None, None, {}
    return row.flow, row.step, {k: v for k, v in (row.data or {}).items() if not k.startswith("_")}


def _send(chat, typed: str) -> str:
    if typed == "<sticker>":
        return joined(chat.send("sticker"))
    if typed == "<image>":
        chat.fake.contents["awkward-photo"] = (JPEG, "image/jpeg")
        return joined(chat.send("image", message_id="awkward-photo"))
    return joined(chat.say(typed))


def stays(chat, typed: str, says: str) -> str:
    """``typed`` at the question waiting: ``says`` in the reply, the same question asked again
    with its buttons, and every answer given so far kept."""
    flow, step, data = _state(chat)
    texts = _send(chat, typed)
    assert says in texts, (typed, texts)
    assert _state(chat) == (flow, step, data), (typed, texts)
    assert chat.labels(), f"{typed!r} left no way forward"
    return texts


def all_stay(chat, *cases: tuple[str, str]) -> None:
    for typed, says in cases:
        stays(chat, typed, says)


def awkward(chat, *, thanks: bool = True) -> None:
    """A sticker, a photo and 「謝謝」 at the question waiting: a nudge (or the friendly word back)
    and the same question."""
    all_stay(chat, ("<sticker>", "貼圖"), ("<image>", "圖片"), *([("謝謝", "不客氣")] if thanks else []))


def back_keeps_the_rest(chat) -> None:
    """「上一步」: the previous question again, only its answer taken back."""
    flow, step, data = _state(chat)
    texts = joined(chat.say("上一步"))
    back_flow, back_step, back_data = _state(chat)
    assert back_flow == flow and back_step != step, texts
    assert {k: v for k, v in data.items() if k != back_step} == back_data, texts
    assert chat.labels()


def no_tickets(app) -> None:
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(UnansweredQuestion)).all() == []


def test_the_eligibility_check(app, chat):
    chat.follow()
    chat.say("我符合資格嗎？")
    stays(chat, "<sticker>", "貼圖")
    stays(chat, "謝謝", "不客氣")
    chat.tap("同意")
    awkward(chat)
    stays(chat, "公私登記", "看不太出來是哪一種登記")  # a typo of a choice: which one, with the choices
    chat.tap("公司登記")
    stays(chat, "-3", "確切人數")  # was read as 3 employees
    stays(chat, "999", "請再確認一次人數")  # was an 「ineligible」 verdict for 999 employees
    awkward(chat)
    assert "最近有沒有拿過" in joined(chat.say("五個人"))  # a number in words is the answer
    back_keeps_the_rest(chat)
    chat.say("五個人")
    chat.tap("都沒有")
    chat.tap("不是")
    if _state(chat)[1] != "tax_id":
        chat.tap("是")
    # 「不知道」 was 「統一編號只能是數字」
    all_stay(chat, ("12345678", "檢查碼不對"), ("2155643", "8 位數字"), ("不知道", "稅籍登記查詢"))
    awkward(chat)
    chat.say("21556433")
    stays(chat, "五個人", "看起來是數字")  # was saved as the shop's name
    stays(chat, "謝謝", "不客氣")
    chat.say("小明咖啡有限公司")
    stays(chat, "火星", "縣市和鄉鎮市區")
    chat.say("台北市大安區")
    stays(chat, "999", "看起來是數字")  # not a trade
    chat.say("餐飲")
    chat.say("手沖咖啡")
    assert _state(chat)[1] == "_summary"
    # a photo on the card was 「要修改哪一項呢？」
    all_stay(chat, ("<image>", "圖片"), ("<sticker>", "貼圖"), ("五個人", "要修改哪一項"))
    assert "店家資料已登記" in joined(chat.tap("確認"))
    with chat.runtime.database.session() as session:
        company = session.exec(select(Company)).one()
    assert (company.employees, company.name, company.industry) == (5, "小明咖啡有限公司", "餐飲")
    no_tickets(app)


def test_signing_the_letter_of_intent(app, chat):
    chat.follow()
    make_company(app, chat.user_id, employees=None)
    chat.say("簽署合作意向書")
    chat.tap("同意")
    awkward(chat)
    stays(chat, "-3", "確切人數")
    stays(chat, "999", "請再確認一次人數")
    chat.say("五個人")  # was 「請輸入 0 以上的整數」
    # the contact person is not called 「謝謝」, nor 「謝謝你」 or 「五個人」 (both were saved)
    all_stay(chat, ("謝謝", "不客氣"), ("謝謝你", "不客氣"), ("五個人", "看起來是數字"), ("王", "2 到 30 個字"))
    chat.say("王小明")
    awkward(chat)
    stays(chat, "0912-345-67", "09 開頭的 10 位數字")
    back_keeps_the_rest(chat)
    chat.say("王小明")
    chat.say("零九一二三四五六七八")  # digits in words
    chat.say("02-2345-6789")
    stays(chat, "shop@example,com", "格式好像不對")
    chat.say("shop@example.com")
    stays(chat, "火星", "從縣市寫起")
    chat.say("台北市大同區承德路二段239號")
    assert "員工人數：5 人" in joined(chat.say("王大明"))  # the review card
    stays(chat, "<image>", "圖片")
    stays(chat, "五個人", "內容正確")
    chat.tap("內容正確")
    chat.tap("我同意")
    stays(chat, "謝謝", "不客氣")  # not a signature
    stays(chat, "王小明", "一字不差")
    texts = joined(chat.say("王大明"))
    assert "已簽署" in texts or "簽署完成" in texts, texts
    no_tickets(app)


def _signed_owner(app, chat) -> int:
    with app.extensions["bot"].database.session() as session:
        person(session, chat.user_id)
        person(session, ADVISOR, role="advisor")
        company = signed_company(session, 1, owner=chat.user_id, advisor=ADVISOR)
        company.tool_adopted_at = datetime(2023, 7, 20, tzinfo=TAIPEI)
        company.employees, company.main_product = 3, "手搖飲"
        company_id = company.id
    chat.follow()
    return company_id


def _form_of_signed_owner(app, chat, command: str) -> int:
    """A signed owner starts the form (its company's id); a sticker, a photo and 「謝謝」 at once."""
    company_id = _signed_owner(app, chat)
    chat.say(command)
    awkward(chat)
    return company_id


def test_correcting_my_details(app, chat):
    company_id = _form_of_signed_owner(app, chat, "修正資料")
    stays(chat, "員工人樹", "請點選下方的項目")
    chat.tap("員工人數")
    awkward(chat)
    all_stay(chat, ("-3", "0 到 199"), ("999", "0 到 199"))  # 999 was saved
    assert "更新為：5" in joined(chat.say("五個人"))  # was refused
    chat.say("修正資料")
    chat.tap("公司名稱")
    stays(chat, "謝謝", "不客氣")  # was saved as the company's name
    stays(chat, "五個人", "1 到 200 個字")
    back_keeps_the_rest(chat)
    chat.say("取消")
    with chat.runtime.database.session() as session:
        company = session.get(Company, company_id)
    assert (company.employees, company.name) == (5, "店1")
    no_tickets(app)


def test_booking_a_visit(app, chat):
    _form_of_signed_owner(app, chat, "預約訪視")
    # a date in the past, a day that does not exist, a number
    all_stay(chat, ("昨天下午2點", "已經過了"), ("2/30 10點", "看不懂這個時間"), ("五個人", "看不懂這個時間"))
    chat.say("下週三下午2點")
    awkward(chat)
    stays(chat, "線下", "請選「現地」或「線上」")
    back_keeps_the_rest(chat)
    chat.say("下週三下午2點")
    chat.tap("現地")
    stays(chat, "<image>", "圖片")
    assert "預約" in joined(chat.tap("確認"))
    no_tickets(app)


def test_reporting_figures(app, chat):
    _form_of_signed_owner(app, chat, "回報績效")
    # 「五個人」 was taken as a revenue of 5 元
    all_stay(chat, ("五個人", "看起來是人數"), ("-3", "不會是負數"), ("一百億", "太大了"))
    assert "客人" in joined(chat.say("三萬囉"))  # 30,000 in words, then the next question
    back_keeps_the_rest(chat)
    stays(chat, "謝謝", "不客氣")
    chat.say("三萬塊")
    assert "（3/12）" in joined(chat.say("五十個"))  # 50 人次
    assert _state(chat)[2]["b0"]["v"] == 30000
    no_tickets(app)


def test_reporting_usage(app, chat):
    _signed_owner(app, chat)
    chat.say("回報使用量")
    all_stay(chat, ("<sticker>", "貼圖"), ("謝謝", "不客氣"), ("-3", "不太對"), ("999999999", "不太對"),
             ("好多張", "請輸入一個數字"))
    back_keeps_the_rest(chat)
    chat.tap("店1")
    assert "50 張" in joined(chat.say("五十張"))
    no_tickets(app)


def test_the_digital_checkup(app, chat):
    _form_of_signed_owner(app, chat, "數位健檢")
    all_stay(chat, ("999", "請點下方的選項"), ("官網或LINE官方帳戶", "請點下方的選項"))  # a typo: the options again
    chat.tap("官網或LINE官方帳號")
    awkward(chat)
    back_keeps_the_rest(chat)
    no_tickets(app)


def test_the_name_for_an_activitys_sign_in_sheet(app, chat):
    with app.extensions["bot"].database.session() as session:
        person(session, chat.user_id)
    chat.follow()
    activity = _activity(app, starts_in=timedelta(days=3))
    _join(chat, chat.user_id, activity.id)
    awkward(chat, thanks=False)
    # 「謝謝」 was written on the sign-in sheet
    all_stay(chat, ("謝謝", "姓名"), ("五個人", "看起來是數字"), ("王小明123", "1 到 30 個字"))
    assert "王小明" in joined(chat.say("王小明"))
    no_tickets(app)


def test_the_small_talk_of_stop_31_in_the_middle_of_a_form(app, chat):
    # A slip, a complaint and 「I'll ask the vendor」 (small-talk classes added at stop 31) typed where
    # a count or a name is asked: the friendly line, the same question, nothing saved, no ticket.
    chat.follow()
    chat.say("我符合資格嗎？")
    chat.tap("同意")
    chat.tap("公司登記")
    all_stay(chat, ("按錯了", "沒關係"), ("拜託快點回我", "久等"), ("我再問問業務", "不急"))
    chat.say("五個人")
    chat.tap("都沒有")
    chat.tap("不是")
    if _state(chat)[1] != "tax_id":
        chat.tap("是")
    chat.say("21556433")
    # where the shop's name is asked: none of these is a name
    all_stay(chat, ("傳錯了", "沒關係"), ("回答好慢", "久等"), ("好喔 我再跟業者確認", "好的"))
    no_tickets(app)
