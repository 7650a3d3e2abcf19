"""Hypothesis strategies for hostile webhook requests: LINE-shaped bodies with one or more
mutations, arbitrary JSON, raw bytes (invalid UTF-8 too), deep nesting, and every way of getting
the X-Line-Signature header wrong."""
from __future__ import annotations

import json
import secrets

from hypothesis import strategies as st

from bot.devmode import sign

EVENT_TYPES = ("message", "postback", "follow", "unfollow", "join", "leave", "memberJoined", "beacon",
               "accountLink", "unsend", "videoPlayComplete", "things", "activated", "botSuspended",
               "membership", "futureEventType", "", "MESSAGE")
MESSAGE_TYPES = ("text", "sticker", "image", "video", "audio", "file", "location", "imagemap", "flex", "x-unknown")
SOURCE_TYPES = ("user", "group", "room", "channel", "")

# Characters that break naive code: controls, NUL, bidi overrides, surrogate-free emoji, CJK, quotes.
NASTY = ("\x00", "\x07", "\x1b[2J", "\u202e", "\ufeff", "\u200b", "👍🏽", "👨‍👩‍👧‍👦", "🀄", "𠮷",
         "數位小測驗", "我的資料", "刪除", "取消", "上一步", "選單", "'; DROP TABLE users; --", "{{7*7}}",
         "<script>alert(1)</script>", "%s%s%n", "\\u0000", "\r\n", "\t")

nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(NASTY),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=8).map("".join),
    st.sampled_from((4999, 5000, 5001, 20000)).flatmap(
        lambda n: st.sampled_from(("字", "a", "👍", "\x00")).map(lambda c: c * n)),
)

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), nasty_text)
any_json = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)), max_leaves=6)

user_ids = st.one_of(st.just("U" + "f" * 32), st.builds(lambda: "U" + secrets.token_hex(16)),
                     nasty_text, st.integers(), st.none())


timestamps = st.one_of(st.integers(0, 2**53), scalars)
modes = st.sampled_from(("active", "standby", "", "x"))
event_ids = st.one_of(st.builds(lambda: "01" + secrets.token_hex(12).upper()),
                      st.just("01FIXEDDUPLICATEID0000000A"), nasty_text, st.integers())
delivery_contexts = st.one_of(st.fixed_dictionaries({"isRedelivery": st.booleans()}), any_json)
sources = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(SOURCE_TYPES), "userId": user_ids}),
    st.fixed_dictionaries({"type": st.just("group"), "groupId": nasty_text, "userId": user_ids}),
    any_json)
reply_tokens = st.one_of(st.builds(lambda: secrets.token_hex(16)), nasty_text, st.none())
message_ids = st.one_of(st.from_regex(r"\A[0-9]{1,20}\Z"), nasty_text)
postback_data = st.one_of(nasty_text, st.dictionaries(st.text(max_size=5), scalars, max_size=3).map(json.dumps))
postback_params = st.one_of(st.just({}), st.fixed_dictionaries({"params": any_json}))
follows = st.one_of(st.fixed_dictionaries({"isUnblocked": st.booleans()}), any_json)
junk_keys = st.text(max_size=10)


@st.composite
def line_event(draw) -> dict:
    """A LINE-like event, usually valid, often bent out of shape."""
    kind = draw(st.sampled_from(EVENT_TYPES))
    event: dict = {"type": kind, "timestamp": draw(timestamps), "mode": draw(modes),
                   "webhookEventId": draw(event_ids), "deliveryContext": draw(delivery_contexts),
                   "source": draw(sources), "replyToken": draw(reply_tokens)}
    if kind == "message":
        message_type = draw(st.sampled_from(MESSAGE_TYPES))
        event["message"] = {"type": message_type, "id": draw(message_ids), "quoteToken": "q" + secrets.token_hex(4)}
        if message_type == "text":
            event["message"]["text"] = draw(nasty_text)
        if message_type == "sticker":
            event["message"].update(packageId="446", stickerId="1988", stickerResourceType="STATIC")
    if kind == "postback":
        event["postback"] = {"data": draw(postback_data), **draw(postback_params)}
    if kind == "follow":
        event["follow"] = draw(follows)
    # Mutations (most events get none, so many pass every check): drop or retype fields, add junk.
    mutations = draw(st.integers(0, 6))
    for _ in range(max(0, mutations - 3)):
        field = draw(st.sampled_from(sorted(event)))
        if draw(st.booleans()):
            event.pop(field, None)
        else:
            event[field] = draw(any_json)
    if mutations == 1:
        event[draw(junk_keys)] = draw(any_json)
    return event


def _deep(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode() if depth % 2 else ('{"a":' * depth + "1" + "}" * depth).encode()


bodies = st.one_of(
    # LINE-shaped bodies (the most interesting: they pass the first checks).
    st.builds(lambda d, e: json.dumps({"destination": d, "events": e}, ensure_ascii=False).encode("utf-8"),
              st.one_of(st.just("Udevbot"), nasty_text), st.lists(line_event(), max_size=4)),
    st.builds(lambda e: json.dumps({"destination": "Udevbot", "events": e}).encode("ascii"),
              st.lists(line_event(), min_size=1, max_size=3)),
    # Wrong top-level types and shapes.
    any_json.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.builds(lambda v: json.dumps({"destination": "Udevbot", "events": v}).encode(), any_json),
    # Not JSON, not UTF-8, deep, huge.
    st.binary(max_size=300),
    st.sampled_from((b"\xff\xfe\xfd", b'{"events": [\xc3\x28]}', b"\xed\xa0\x80", b"", b"null", b"[]", b"{}")),
    st.sampled_from((50, 101, 1000, 5001, 100001)).map(_deep),
    st.sampled_from((10_000, 1_000_000)).map(lambda n: b'{"destination":"' + b"x" * n + b'","events":[]}'),
)


@st.composite
def webhook_requests(draw, secret: str) -> tuple[bytes, dict, bool]:
    """(body, headers, correctly_signed)."""
    body = draw(bodies)
    how = draw(st.sampled_from(("good", "good", "good", "missing", "wrong", "other_body", "garbage",
                                "other_secret", "empty", "huge")))
    headers = {"Content-Type": draw(st.sampled_from(("application/json", "application/json; charset=utf-8",
                                                      "text/plain", "multipart/form-data", "")))}
    if how == "good":
        headers["X-Line-Signature"] = sign(secret, body)
    elif how == "wrong":
        good = sign(secret, body)
        headers["X-Line-Signature"] = ("A" if good[0] != "A" else "B") + good[1:]
    elif how == "other_body":
        headers["X-Line-Signature"] = sign(secret, body + b" ")
    elif how == "garbage":
        headers["X-Line-Signature"] = draw(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80))
    elif how == "other_secret":
        headers["X-Line-Signature"] = sign("not-the-secret", body)
    elif how == "empty":
        headers["X-Line-Signature"] = ""
    elif how == "huge":
        headers["X-Line-Signature"] = "A" * 8000
    return body, headers, how == "good"


# --- a fast generator for the 10,000-input run -------------------------------------------------
# Hypothesis costs a few milliseconds per structured example; for the bulk run it draws only a
# random generator (``st.randoms``) and this builds the same kinds of hostile requests from it.

def _r_text(rng) -> str:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(NASTY)
    if pick < 0.5:
        return "".join(rng.choice(NASTY) for _ in range(rng.randint(1, 8)))
    if pick < 0.6:
        return rng.choice(("字", "a", "👍", "\x00")) * rng.choice((4999, 5000, 5001, 20000))
    if pick < 0.8:
        return "".join(chr(rng.choice((rng.randint(0, 0x7f), rng.randint(0x80, 0xd7ff), rng.randint(0xe000, 0x10ffff))))
                       for _ in range(rng.randint(0, 30)))
    return rng.choice(("數位小測驗", "選單", "上一步", "取消", "我的資料", "20", "LINE官方帳號", "還沒有", "hi"))


def _r_scalar(rng):
    return rng.choice((None, True, False, rng.randint(-2**70, 2**70), rng.uniform(-1e300, 1e300), _r_text(rng)))


def _r_json(rng, depth: int = 0):
    pick = rng.random()
    if depth > 3 or pick < 0.5:
        return _r_scalar(rng)
    if pick < 0.75:
        return [_r_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_r_text(rng)[:12]: _r_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def random_event(rng) -> dict:
    kind = rng.choice(EVENT_TYPES[:6]) if rng.random() < 0.8 else rng.choice(EVENT_TYPES)
    user = rng.choice(("U" + "f" * 32, "U" + "%032x" % rng.getrandbits(128), "U" + "%032x" % rng.getrandbits(128))) \
        if rng.random() < 0.85 else _r_scalar(rng)
    event: dict = {"type": kind, "timestamp": rng.randint(0, 2**53) if rng.random() < 0.9 else _r_scalar(rng),
                   "mode": "active" if rng.random() < 0.85 else rng.choice(("standby", "", "x")),
                   "webhookEventId": ("01" + "%024X" % rng.getrandbits(96)) if rng.random() < 0.85 else
                   rng.choice(("01FIXEDDUPLICATEID0000000A", _r_text(rng), rng.randint(0, 9))),
                   "deliveryContext": {"isRedelivery": rng.random() < 0.2} if rng.random() < 0.9 else _r_json(rng),
                   "source": {"type": rng.choice(SOURCE_TYPES) if rng.random() < 0.3 else "user", "userId": user},
                   "replyToken": "%032x" % rng.getrandbits(128) if rng.random() < 0.9 else _r_scalar(rng)}
    if kind == "message":
        message_type = rng.choice(MESSAGE_TYPES)
        event["message"] = {"type": message_type, "id": str(rng.getrandbits(60)), "quoteToken": "q"}
        if message_type == "text":
            event["message"]["text"] = _r_text(rng)
        if message_type == "sticker":
            event["message"].update(packageId="446", stickerId="1988", stickerResourceType="STATIC")
    elif kind == "postback":
        event["postback"] = {"data": _r_text(rng) if rng.random() < 0.5 else json.dumps(_r_json(rng))}
        if rng.random() < 0.3:
            event["postback"]["params"] = _r_json(rng)
    elif kind == "follow":
        event["follow"] = {"isUnblocked": rng.random() < 0.5}
    for _ in range(max(0, rng.randint(0, 6) - 3)):
        field = rng.choice(sorted(event))
        if rng.random() < 0.5:
            event.pop(field, None)
        else:
            event[field] = _r_json(rng)
    return event


def random_body(rng) -> bytes:
    pick = rng.random()
    if pick < 0.6:
        return json.dumps({"destination": "Udevbot", "events": [random_event(rng) for _ in range(rng.randint(0, 4))]},
                          ensure_ascii=rng.random() < 0.3).encode("utf-8", "surrogatepass")
    if pick < 0.7:
        return json.dumps(_r_json(rng), ensure_ascii=False).encode("utf-8", "surrogatepass")
    if pick < 0.75:
        return json.dumps({"destination": "Udevbot", "events": _r_json(rng)}).encode()
    if pick < 0.85:
        return rng.randbytes(rng.randint(0, 300))
    if pick < 0.9:
        return rng.choice((b"\xff\xfe\xfd", b'{"events": [\xc3\x28]}', b"\xed\xa0\x80", b"", b"null", b"[]", b"{}"))
    if pick < 0.97:
        return _deep(rng.choice((50, 101, 1000, 5001, 100001)))
    return b'{"destination":"' + b"x" * rng.choice((10_000, 1_000_000)) + b'","events":[]}'


def random_request(rng, secret: str) -> tuple[bytes, dict, bool]:
    body = random_body(rng)
    how = rng.choice(("good", "good", "good", "missing", "wrong", "other_body", "garbage", "other_secret", "empty", "huge"))
    headers = {"Content-Type": rng.choice(("application/json", "application/json; charset=utf-8", "text/plain", ""))}
    good = sign(secret, body)
    headers["X-Line-Signature"] = {
        "good": good, "missing": None, "wrong": ("A" if good[0] != "A" else "B") + good[1:],
        "other_body": sign(secret, body + b" "), "garbage": "".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(1, 80))),
        "other_secret": sign("not-the-secret", body), "empty": "", "huge": "A" * 8000}[how]
    if headers["X-Line-Signature"] is None:
        del headers["X-Line-Signature"]
    return body, headers, how == "good"
