from tests.conftest import joined


def test_follow_greets_and_offers_menu(chat):
    texts = chat.follow()
    assert "歡迎" in joined(texts)
    assert "我符合資格嗎？" in chat.labels()


def test_demo_flow_end_to_end(chat):
    chat.follow()
    texts = chat.say("數位小測驗")
    assert "客人" in joined(texts)
    chat.tap("LINE官方帳號")
    texts = chat.say("很多")
    assert "數字" in joined(texts)
    texts = chat.say("二十筆")  # a Chinese numeral with a unit is fine
    assert "請確認" in joined(texts) and "20 筆" in joined(texts)
    texts = chat.tap("確認")
    assert "小測驗完成" in joined(texts)


def test_someone_whose_follow_never_arrived_is_recorded_once_and_answered(chat, app):
    # LINE may drop a follow event (or it came before the bot existed): the first message then
    # records the person, without consent or a profile, and later messages find them.
    from sqlmodel import select

    from bot.models import User

    texts = chat.say("數位小測驗")
    assert "客人" in joined(texts)
    assert "已取消" in joined(chat.say("取消"))  # the second message: the same person, their flow
    with app.extensions["bot"].database.session() as session:
        users = session.exec(select(User).where(User.line_user_id == chat.user_id)).all()
    assert len(users) == 1
    assert users[0].is_following and users[0].consent_version is None and not users[0].display_name
