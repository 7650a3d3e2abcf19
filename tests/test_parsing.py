"""Free-text answer parsers used by the chat flows (dialogs/parsing.py)."""
from datetime import date, time

import pytest

from bot.timeutil import format_roc_date
from dialogs.parsing import Amount, cn_to_int, parse_amount, parse_count, parse_date, parse_registration, parse_time, parse_yes_no


@pytest.mark.parametrize("text, expected", [
    ("5", 5), ("5人", 5), ("５人", 5), ("五個人", 5), ("十二位", 12), ("二十五", 25),
    ("25位員工", 25), ("兩個", 2), ("一個", 1), ("一百零五", 105), ("10個", 10), ("0", 0),
    ("我們有 3 個員工", 3),
    # the 一 of 一共/一起 is part of a word, not a second number
    ("老師加行政一共6個人", 6), ("一共六個", 6),
    # the owner is not an employee: 經常性僱用員工 (002 貳一)
    ("只有我自己", 0), ("我一個人", 0), ("就我一個", 0), ("沒請人", 0), ("沒有員工", 0), ("沒有", 0),
    # ranges and approximations: ask again rather than guess near the 9/10 boundary
    ("兩三個", None), ("五六個", None), ("十幾個", None), ("3到5個", None), ("3-5人", None),
    ("大概10個", None), ("十個左右", None), ("就我跟老婆", None),
    ("3個正職2個兼職", None), ("", None), (None, None), ("很多", None),
])
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize("chars, expected", [
    ("十", 10), ("十二", 12), ("二十", 20), ("二十五", 25), ("一百", 100), ("兩", 2),
    ("兩三", None), ("12", 12),
])
def test_cn_to_int(chars, expected):
    assert cn_to_int(chars) == expected


@pytest.mark.parametrize("text, expected", [
    ("有", True), ("是", True), ("對", True), ("有啊", True), ("是的", True), ("沒錯", True),
    ("嗯", True), ("yes", True), ("OK", True), ("可以", True),
    ("沒有", False), ("沒", False), ("不是", False), ("否", False), ("不用", False), ("no", False),
    ("無", False),
    ("不確定", "unsure"), ("不知道", "unsure"), ("好像有", "unsure"), ("應該沒有", "unsure"),
    ("忘了", "unsure"), ("不記得", "unsure"),
    ("隨便", None), ("", None), (None, None),
])
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("有公司登記", "company"), ("我們是有限公司", "company"), ("股份有限公司", "company"),
    ("有商業登記", "business"), ("行號", "business"), ("商號", "business"), ("獨資", "business"),
    ("我不是公司，是行號", "business"),
    ("只有稅籍", "tax_only"), ("沒有公司登記，只有稅籍", "tax_only"), ("有稅籍登記", "tax_only"),
    ("攤商沒登記", "none"), ("都沒有", "none"), ("沒有登記", "none"), ("沒有稅籍", "none"),
    ("無", "none"),
    ("攤商", None), ("沒有公司登記", None), ("", None), ("不知道", None),
    # 「沒開公司」 negates with the verb between; filing taxes at the 國稅局 is the tax registration
    ("沒開公司", None), ("沒開公司只有去國稅局報稅那種", "tax_only"), ("有開公司", "company"),
])
def test_parse_registration(text, expected):
    assert parse_registration(text) == expected


TODAY = date(2023, 3, 8)  # a Wednesday


@pytest.mark.parametrize("text, expected", [
    ("今天", date(2023, 3, 8)), ("昨天", date(2023, 3, 7)), ("明天", date(2023, 3, 9)),
    ("後天", date(2023, 3, 10)),
    ("3/10", date(2023, 3, 10)), ("3月10號", date(2023, 3, 10)), ("3月10日", date(2023, 3, 10)),
    ("112/3/10", date(2023, 3, 10)), ("112年3月10日", date(2023, 3, 10)),
    ("民國112年3月10日", date(2023, 3, 10)), ("112.03.10", date(2023, 3, 10)),
    ("2023-03-10", date(2023, 3, 10)), ("2023/3/10", date(2023, 3, 10)),
    ("２０２３／３／１０", date(2023, 3, 10)), ("３/１０", date(2023, 3, 10)),
    ("下週三", date(2023, 3, 15)), ("週五", date(2023, 3, 10)), ("禮拜一", date(2023, 3, 13)),
    ("2/30", None), ("112/13/1", None), ("下次", None), ("", None),
    # A time after a space ends the day: 5/1, not 5/11; 12/7, not nothing; spaces in a date are fine.
    ("3/1 14:00", date(2023, 3, 1)), ("12/7 10點", date(2023, 12, 7)), ("112/3/2 15:00", date(2023, 3, 2)),
    ("3 / 10", date(2023, 3, 10)), ("112 年 3 月 10 日", date(2023, 3, 10)), ("12345675 3/10", date(2023, 3, 10)),
])
def test_parse_date(text, expected):
    assert parse_date(text, today=TODAY) == expected


@pytest.mark.parametrize("text, expected", [
    ("14:00", time(14, 0)), ("14：30", time(14, 30)), ("下午2點", time(14, 0)),
    ("下午兩點半", time(14, 30)), ("2點半", time(14, 30)),  # bare 1–6 o'clock = afternoon
    ("12/7 10點", time(10, 0)), ("5/1 下午 3 點", time(15, 0)), ("3/10 14 : 30", time(14, 30)),
    ("早上9點15分", time(9, 15)), ("上午10點", time(10, 0)), ("十點半", time(10, 30)),
    ("晚上七點", time(19, 0)), ("中午12點", time(12, 0)), ("中午1點", time(13, 0)),
    ("14點", time(14, 0)), ("下午2:30", time(14, 30)),
    ("25:00", None), ("等一下", None), ("", None),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("value, expected", [
    (date(2023, 3, 10), "112/03/10"), (date(2022, 12, 1), "111/12/01"),
    (date(2011, 1, 1), "100/01/01"),
])
def test_roc_date(value, expected):
    assert format_roc_date(value) == expected


SECONDS = {"分鐘": 60, "分": 60, "秒": 1}


@pytest.mark.parametrize("text, value, approximate", [
    # plain figures, separators, full-width digits, currency and counting units
    ("30000", 30000, False), ("3,000", 3000, False), ("３０，０００", 30000, False), ("１５０００", 15000, False),
    ("NT$30,000元", 30000, False), ("三萬元整", 30000, False), ("3萬塊", 30000, False), ("1200人", 1200, False),
    ("35則", 35, False), ("0", 0, False), ("沒有", 0, False), ("零", 0, False),
    # 萬, decimals, spoken forms, k / w
    ("3萬", 30000, False), ("1.5萬", 15000, False), ("三點五萬", 35000, False), ("三千五", 3500, False),
    ("兩萬五", 25000, False), ("3萬5", 35000, False), ("一萬兩千", 12000, False), ("兩百", 200, False),
    ("3k", 3000, False), ("1.5w", 15000, False), ("3K", 3000, False),
    # approximations: the figure said, approximate
    ("大約 3 萬", 30000, True), ("大概三萬左右吧", 30000, True), ("約3000人", 3000, True),
    ("營業額大約3萬", 30000, True), ("差不多兩千", 2000, True), ("快要一萬", 10000, True),
    ("兩百多", 200, True), ("3萬多", 30000, True), ("一千多塊", 1000, True), ("十幾個", 10, True),
    ("二十幾", 20, True),
    # ranges: the middle, approximate
    ("三到五萬", 40000, True), ("200-300", 250, True), ("兩三百", 250, True), ("五六千", 5500, True),
    # typing slips
    ("3o00", 3000, False), ("3萬。", 30000, False), ("上個月3萬", 30000, False),
    # negative: read, and refused by the caller (a count cannot be negative)
    ("-5", -5, False), ("負5", -5, False), ("少了5", -5, False),
])
def test_parse_amount(text, value, approximate):
    assert parse_amount(text) == Amount(value, approximate)


@pytest.mark.parametrize("text", [
    "", None, "幾百", "很多", "不到一萬", "10%", "成長百分之十", "3萬或4萬", "我不知道", "abc", "3..5", "1.2.3",
    "4萬-3萬", "1e5", "一些", "好多", "2多", "上個月3萬這個月4萬",
])
def test_parse_amount_refuses_what_is_not_one_figure(text):
    assert parse_amount(text) is None


def test_parse_amount_converts_the_callers_units():
    assert parse_amount("2分鐘", units=SECONDS) == Amount(120)
    assert parse_amount("90秒", units=SECONDS) == Amount(90)
    assert parse_amount("大約1分鐘", units=SECONDS) == Amount(60, True)
    assert parse_amount("90秒") is None  # without the caller's units a 秒 is not a plain count
    assert parse_amount("3千元", units={"千元": 1000}) == Amount(3000)


@pytest.mark.parametrize("text,expected", [("謝謝", True), ("好的！", True), ("不知道", True), ("嗯嗯", True),
                                           # the FAQ's small talk (intents.yaml), the one list both read
                                           ("辛苦了", True), ("掰掰", True), ("好der", True), ("3Q", True),
                                           ("好運麵包", False), ("王小明", False), ("謝小姐", False), ("無印商行", False)])
def test_is_non_answer(text, expected):
    from dialogs.parsing import is_non_answer
    assert is_non_answer(text) is expected


@pytest.mark.parametrize("text,expected", [("0912-345-678", "phone"), ("(04)2234-5678#12", "phone"),
                                           ("a.b@shop.com.tw", "email"), ("04595257", "tax_id"),
                                           ("https://line.me/R/ti/p/@abc", "url"), ("台中市西屯區台灣大道三段99號", "address"),
                                           ("顧問幾號來", None), ("5人", None), ("台北", None), ("112/3/5", None),
                                           # questions that start like a detail are questions
                                           ("台北市說明會是幾號", None), ("台北市也可以嗎 要去哪一樓", None),
                                           ("https://lin.ee/abc 這個連結打不開", None)])
def test_detail_kind(text, expected):
    from dialogs.parsing import detail_kind
    assert detail_kind(text) == expected
