"""「找專人」: the next message reaches staff, and their answer comes back to the owner."""
from sqlmodel import select

from bot.models import RoleGrant
from knowledge.models import UnansweredQuestion


def test_handoff_to_staff_and_answer_back(chat, app, fake_line):
    staff = "U" + "5" * 32
    with app.extensions["bot"].database.write_session() as session:
        session.add(RoleGrant(line_user_id=staff, role="staff"))
    chat.follow()
    assert any("打字告訴我" in t for t in chat.say("找專人"))
    texts = chat.say("我們是夫妻一起經營的早餐店，老闆娘算員工嗎")
    assert any("已轉給承辦同仁" in t for t in texts)
    with app.extensions["bot"].database.session() as session:
        row = session.exec(select(UnansweredQuestion)).one()
    chat.settle_outbox()
    assert fake_line.wait_for(lambda: any("早餐店" in t for t in fake_line.texts_for(staff)), 5)
    staff_chat = chat.as_user(staff)
    staff_chat.say(f"/回覆 {row.id} 負責人的配偶如有投保勞保可算經常性僱用員工，請以投保紀錄為準。")
    assert fake_line.wait_for(lambda: any("投保紀錄" in t for t in fake_line.texts_for(chat.user_id)), 5)
    # The next message is an ordinary question again, not another hand-off.
    assert not any("已轉給承辦同仁" in t for t in chat.say("謝謝"))
