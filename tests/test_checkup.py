"""數位健檢 in chat: ten taps to a level on 004's five levels with a bar and the next step (timed);
typed answers, 上一步, a sticker, a photo, a question mid-way, a stale button; someone without a
company (kept on the person: membership is companies.service's, so a pending join request gives none), an owner of two
companies; the follow-up compared with the baseline for the owner, the advisor (「健檢結果」,
「我的進度」) and the evidence pack; the scheduler's asks once each."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlmodel import select

from bot.models import User
from bot.timeutil import TAIPEI
from checkup import service
from checkup.models import CheckupResult
from checkup.settings import checkup
from companies.models import Company
from scheduler.scheduled import tick
from tests.conftest import joined
from tests.test_activities import ADVISOR, person, signed_company, uid

DATA = checkup()


def _owner(app, n: int = 1, *, companies: int = 1) -> list[int]:
    ids = []
    with app.extensions["bot"].database.session() as session:
        if session.exec(select(User).where(User.line_user_id == ADVISOR)).first() is None:
            person(session, ADVISOR, role="advisor")
        person(session, uid(n))
        for k in range(companies):
            ids.append(signed_company(session, n * 10 + k, owner=uid(n)).id)
    return ids


def _answer_all(chat, choose) -> list[str]:
    """Tap an option for every question: ``choose(question)`` gives the option's label."""
    texts = []
    for question in DATA.questions:
        texts = chat.tap(choose(question))
    return texts


def _flex(chat) -> dict:
    return next(m for m in chat.last if m["type"] == "flex")


def test_ten_taps_to_a_level_with_a_bar_and_the_next_step(app, chat):
    _owner(app)
    owner = chat.as_user(uid(1))
    started = time.monotonic()
    first = joined(owner.say("數位健檢"))
    assert "共 10 題" in first and "（1/10）客人在網路上找得到您的店嗎？" in first
    assert owner.labels()[:4] == ["找不到／沒經營", "有地圖或粉專但少更新", "粉專或IG每月更新", "官網或LINE官方帳號"]
    # Everything at the second answer (1 point each): 10 points = level 2; the weakest areas' tips.
    texts = _answer_all(owner, lambda q: q.options[1].label)
    elapsed = time.monotonic() - started
    result = joined(texts)
    assert "數位健檢結果：第 2 級" in result and "第 2 級：會用基本數位工具" in result
    assert "網路曝光" in result and "2／6 分" in result and "建議下一步" in result
    assert "LINE 會員集點與訂位" in result  # the campaign's tool for the weakest area
    assert "gonghao" not in result and "004" not in result  # no internals for owners
    bubble = _flex(owner)["contents"]
    bar = bubble["body"]["contents"][1]["contents"][1]["contents"]
    assert len(bar) == 5 and [c["backgroundColor"] for c in bar].count("#06C755") == 2
    # 11 messages (the word and ten taps), well under two minutes for a person.
    assert elapsed < 60, elapsed
    with app.extensions["bot"].database.session() as session:
        row = session.exec(select(CheckupResult)).one()
        assert (row.stage, row.points, row.level) == ("baseline", 10, 2) and row.company_id is not None


def test_bad_inputs_mid_checkup(app, chat):
    _owner(app)
    owner = chat.as_user(uid(1))
    owner.say("數位健檢")
    stale = next(a for a in owner.actions() if a.get("label") == "找不到／沒經營")
    assert "（2/10）" in joined(owner.say("找不到"))  # typed words of an option count
    assert "（1/10）" in joined(owner.say("上一步"))
    assert "（2/10）" in joined(owner.say("有粉專或 IG，每個月都會更新"))  # the full option text too
    # A button of a question already answered: expired, the current question again.
    again = joined(owner.tap_action(stale))
    assert "過期" in again and "（2/10）" in again
    assert "（2/10）" in joined(owner.send("sticker"))
    assert "（2/10）" in joined(owner.send("image"))
    nonsense = joined(owner.say("香蕉"))
    assert "請點下方的選項" in nonsense and "（2/10）" in nonsense
    # 「不知道」 is not a wrong answer: the nearest option is enough.
    unsure = joined(owner.say("我不知道耶"))
    assert "最接近" in unsure and "（2/10）" in unsure
    assert "（3/10）" in joined(owner.say("LINE官方帳號群發"))
    # A question mid-way is answered from the FAQ and the check-up resumes.
    faq = joined(owner.say("請問這個健檢要做多久？"))
    assert "（3/10）" in faq
    assert "取消" in joined(owner.say("取消"))
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(CheckupResult)).all() == []  # nothing kept from a cancelled one


def test_without_a_company_and_with_two_companies(app, chat):
    ids = _owner(app, 2, companies=2)
    with app.extensions["bot"].database.session() as session:
        person(session, uid(3))
    for user in (uid(3),):
        stranger = chat.as_user(user)
        assert "還沒有登記公司" in joined(stranger.say("數位健檢"))
        result = joined(_answer_all(stranger, lambda q: q.options[0].label))
        assert "第 1 級" in result and "先存在您自己的紀錄" in result
        assert "數位健檢結果：第 1 級" in joined(stranger.say("健檢結果"))  # kept on the person
    owner = chat.as_user(uid(2))
    assert "要幫哪一家店做數位健檢" in joined(owner.say("數位健檢"))
    assert owner.labels()[:2] == ["店20", "店21"]
    owner.tap("店21")
    _answer_all(owner, lambda q: q.options[-1].label)
    with app.extensions["bot"].database.session() as session:
        rows = session.exec(select(CheckupResult).order_by(CheckupResult.id)).all()
        assert [(r.company_id, r.line_user_id, r.level) for r in rows] == [
            (None, uid(3), 1), (ids[1], uid(2), 5)]


def _texts(fake_line, user_id: str, word: str) -> list[str]:
    return [t for t in fake_line.texts_for(user_id) if word in t]


def test_asked_at_the_start_and_near_the_end_then_compared_for_owner_and_advisor(app, chat, fake_line):
    [first] = _owner(app, 1)
    [second] = _owner(app, 2)
    # programs.yaml checkup_baseline: 112/05/02 17:00, offset 1d -> 05/01 09:00; both owners, once.
    tick(app, now=datetime(2023, 5, 1, 9, 0, tzinfo=TAIPEI))
    tick(app, now=datetime(2023, 5, 1, 9, 5, tzinfo=TAIPEI))
    assert len(_texts(fake_line, uid(1), "看看店裡的數位程度")) == 1 and len(_texts(fake_line, uid(2), "數位健檢")) == 1
    push = next(m for m in fake_line.messages_for(uid(1)) if "數位程度" in m.get("text", ""))
    owner = chat.as_user(uid(1))
    assert "（1/10）" in joined(owner.tap_action(push["quickReply"]["items"][0]["action"]))
    owner.say("取消")
    with app.extensions["bot"].database.session() as session:  # the baseline, taken on 112/05/10
        company = session.get(Company, first)
        service.save(session, checkup=DATA, line_user_id=uid(1), company=company,
                     answers={q.id: q.options[1].id for q in DATA.questions},
                     now=datetime(2023, 5, 10, 10, tzinfo=TAIPEI))
    # checkup_followup: 112/10/20, offsets 5d and 1d, results since 10/01 count: both asked on 10/15.
    tick(app, now=datetime(2023, 10, 15, 9, 0, tzinfo=TAIPEI))
    assert len(_texts(fake_line, uid(1), "再做一次數位健檢")) == 1
    assert len(_texts(fake_line, uid(2), "看看店裡的數位程度")) == 2  # never took it: invited as at the start
    push = [m for m in fake_line.messages_for(uid(1)) if "再做一次" in m.get("text", "")][-1]
    intro = joined(owner.tap_action(push["quickReply"]["items"][0]["action"]))
    assert "跟您112/05/10的結果比一比" in intro
    result = joined(_answer_all(owner, lambda q: q.options[2].label))
    assert "第一次（112/05/10）：第 2 級" in result and "這次：第 3 級" in result and "進步了 1 級" in result
    assert "・結帳怎麼做：計算機或Excel記帳 → 用POS收銀系統" in result
    bars = _flex(owner)["contents"]["body"]["contents"][1:3]
    assert [[c["backgroundColor"] for c in g["contents"][1]["contents"]].count("#E5E5E5") for g in bars] == [3, 2]
    # 10/19: the owner who took it again is not asked; the other is, once more.
    tick(app, now=datetime(2023, 10, 19, 9, 0, tzinfo=TAIPEI))
    assert len(_texts(fake_line, uid(1), "再做一次數位健檢")) == 1
    assert len(_texts(fake_line, uid(2), "看看店裡的數位程度")) == 3
    # The advisor before a visit: 「健檢結果」 and 「我的進度」.
    advisor = chat.as_user(ADVISOR)
    overview = joined(advisor.say("健檢結果"))
    assert "・店10：第 2 級 → 第 3 級" in overview and "・店20：還沒做健檢" in overview
    assert "共 1/2 家做過，1 家做過前後兩次，1 家進步至少 1 級" in overview
    assert "店10（健檢 第 2 級 → 第 3 級）" in joined(advisor.say("我的進度"))
    # An owner's 「健檢結果」 is their own result compared with the first, no one else's.
    mine = joined(owner.say("健檢結果"))
    assert "第一次（112/05/10）：第 2 級" in mine and "這次：第 3 級" in mine and "店20" not in mine
    assert "還沒做過數位健檢" in joined(chat.as_user(uid(2)).say("健檢結果"))
    assert second


def test_the_data_is_validated_and_scored_by_its_thresholds():
    import copy

    import pytest
    import yaml

    from checkup.settings import DATA_FILE, _parse

    raw = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    levels = [(lv["level"], lv["min_points"]) for lv in raw["levels"]]
    for level, minimum in levels:  # each threshold reached exactly gives its level, one point less the one below
        answers, left = {}, minimum
        for question in DATA.questions:
            option = max((o for o in question.options if o.points <= left), key=lambda o: o.points)
            answers[question.id], left = option.id, left - option.points
        assert DATA.score(answers).level == level and DATA.score(answers).points == minimum
    assert DATA.score({"checkout": "nonsense"}).points == 0  # an unknown answer counts nothing
    for breaking in (lambda d: d["questions"][0]["options"][0].update(label="這個選項的文字長到超過二十個字，LINE 會把它截斷"),
                     lambda d: d["questions"][0].update(area="nowhere"),
                     lambda d: d["levels"][0].update(min_points=1)):
        broken = copy.deepcopy(raw)
        breaking(broken)
        with pytest.raises(ValueError):
            _parse(broken)
