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
