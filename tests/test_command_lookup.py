"""Which command a text invokes (dialogs.registry.find_command)."""
from __future__ import annotations

import pytest

from dialogs import registry
from dialogs.registry import Command, find_command


def _handler(request):  # never called: only the lookup is under test
    raise AssertionError("not called")


@pytest.fixture
def commands(monkeypatch):
    registry.load_all()
    table = list(registry.COMMANDS)
    monkeypatch.setattr(registry, "COMMANDS", table)
    return table


def test_the_longest_prefix_wins_whatever_the_registration_order(commands):
    short = Command(name="t_announce", phrases=("/測試公告",), handler=_handler, prefix=True)
    long = Command(name="t_preview", phrases=("/測試公告預覽",), handler=_handler, prefix=True)
    commands.extend([short, long])
    assert find_command("/測試公告預覽 明天停班") == (long, "明天停班")
    assert find_command("/測試公告 明天停班") == (short, "明天停班")
    commands.reverse()  # registered the other way round: same answers
    assert find_command("/測試公告預覽 明天停班") == (long, "明天停班")
    assert find_command("/測試公告 明天停班") == (short, "明天停班")


def test_an_exact_phrase_beats_a_prefix_and_unknown_text_is_no_command(commands):
    exact = Command(name="t_exact", phrases=("測試選單",), handler=_handler)
    prefix = Command(name="t_prefix", phrases=("測試",), handler=_handler, prefix=True)
    commands.extend([prefix, exact])
    assert find_command("測試選單") == (exact, "")
    assert find_command("測試 其他") == (prefix, "其他")
    assert find_command("完全無關的一句話zzz") is None


@pytest.mark.parametrize("text, name, words", [
    ("我的進度 店7", "visit_progress", "店7"),
    ("我的店家進度 阿明", "visit_progress", "阿明"),  # the longer phrase, not 「我的店家」 + 「進度 阿明」
    ("健檢結果：王記", "checkup_advisor", "王記"),
    ("績效趨勢 阿明咖啡館", "kpi_trend", "阿明咖啡館"),
    ("前後測進度 12345675", "assess_progress", "12345675"),
])
def test_a_read_command_followed_by_a_shop_name_takes_the_name(text, name, words):
    registry.load_all()
    cmd, argument = find_command(text)
    assert (cmd.name, argument) == (name, words)


@pytest.mark.parametrize("text", ["我的進度要怎麼看", "健檢結果 要怎麼看？", "我的進度 可以改嗎"])
def test_a_sentence_that_only_starts_with_a_read_command_stays_a_question(text):
    registry.load_all()
    assert find_command(text) is None
