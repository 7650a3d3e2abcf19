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
