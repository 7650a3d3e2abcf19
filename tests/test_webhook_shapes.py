"""The ack's shortcut past the SDK's models (bot.webhook.sdk_shaped) never lets through an event the
SDK's own parser would refuse, checked against the installed line-bot-sdk (so an SDK upgrade that
tightens a model fails here), and it does recognise the shapes it is for."""
from __future__ import annotations

import json
import secrets

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linebot.v3 import WebhookParser
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent, UnfollowEvent

from bot.webhook import sdk_shaped
from tests.chaos.hostile import any_json, line_event, nasty_text

SETTINGS = dict(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
PARSER = WebhookParser("shape-test-secret", skip_signature_verification=lambda: True)


def sdk_model(event):
    """The class the SDK's parser makes of the event (its UnknownEvent when the typed model
    fails), or None when the parser refuses the event."""
    try:
        return type(PARSER.parse(json.dumps({"destination": "U" + "0" * 32, "events": [event]}), "")[0])
    except Exception:
        return None


words = st.one_of(nasty_text, st.builds(lambda: secrets.token_hex(8)))
common = {"timestamp": st.integers(0, 2**63), "mode": st.sampled_from(("active", "standby")),
          "webhookEventId": words, "deliveryContext": st.fixed_dictionaries({"isRedelivery": st.booleans()})}
optional_source = {"source": st.fixed_dictionaries({"type": st.just("user"), "userId": words})}
text_message = st.fixed_dictionaries(
    {"type": st.just("text"), "id": words, "text": words, "quoteToken": words},
    optional={"quotedMessageId": words, "markAsReadToken": words})
shaped_events = st.one_of(
    st.fixed_dictionaries({"type": st.just("message"), **common, "message": text_message},
                          optional={**optional_source, "replyToken": words}),
    st.fixed_dictionaries({"type": st.just("postback"), **common, "postback": st.fixed_dictionaries(
        {"data": words}, optional={"params": st.dictionaries(st.text(max_size=8), words, max_size=3)})},
        optional={**optional_source, "replyToken": words}),
    st.fixed_dictionaries({"type": st.just("follow"), **common, "replyToken": words,
                           "follow": st.fixed_dictionaries({"isUnblocked": st.booleans()})}, optional=optional_source),
    st.fixed_dictionaries({"type": st.just("unfollow"), **common}, optional=optional_source))
MODELS = {"message": MessageEvent, "postback": PostbackEvent, "follow": FollowEvent, "unfollow": UnfollowEvent}


MODELS = {"message": MessageEvent, "postback": PostbackEvent, "follow": FollowEvent, "unfollow": UnfollowEvent}


def check(event) -> None:
    """Whatever the shortcut passes, the SDK builds into its typed model. (The parser itself would
    even accept a message whose text is a number, as its UnknownEvent: demanding the typed model
    keeps the shortcut honest about every field it claims to check.)"""
    if sdk_shaped(event):
        assert sdk_model(event) is MODELS[event["type"]], event


@settings(**SETTINGS)
@given(shaped_events)
def test_the_common_shapes_are_recognised_and_are_what_the_sdk_builds(event):
    assert sdk_shaped(event)
    check(event)


@st.composite
def bent(draw, events):
    """An event with one change anywhere in it: a field dropped, retyped or added, at any depth."""
    event = json.loads(json.dumps(draw(events)))
    holders = [event]
    for holder in holders:
        holders.extend(value for value in holder.values() if isinstance(value, dict))
    holder = draw(st.sampled_from(holders))
    key = draw(st.sampled_from(sorted(holder))) if holder else "x"
    change = draw(st.sampled_from(("drop", "retype", "add")))
    if change == "drop":
        holder.pop(key, None)
    elif change == "retype":
        holder[key] = draw(st.one_of(any_json, st.sampled_from((True, 1, 1.5, "1", None, [], {}))))
    else:
        holder[draw(st.text(max_size=10))] = draw(any_json)
    return event


@settings(**SETTINGS)
@given(st.one_of(bent(shaped_events), line_event()))
def test_nothing_passes_that_the_sdk_would_not_build(event):
    check(event)


TRICKY = (True, False, 0, 1, 1.5, "", "1", "active", "user", "text", None, [], {}, {"isRedelivery": True}, ["x"])
EXAMPLES = [
    {"type": "message", "timestamp": 1, "mode": "active", "webhookEventId": "01H", "replyToken": "r",
     "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": "U1"},
     "message": {"type": "text", "id": "1", "text": "你好", "quoteToken": "q", "quotedMessageId": "2",
                 "markAsReadToken": "m"}},
    {"type": "postback", "timestamp": 1, "mode": "standby", "webhookEventId": "01H", "replyToken": "r",
     "deliveryContext": {"isRedelivery": True}, "source": {"type": "user", "userId": "U1"},
     "postback": {"data": "a=1", "params": {"date": "2023-06-01"}}},
    {"type": "follow", "timestamp": 1, "mode": "active", "webhookEventId": "01H", "replyToken": "r",
     "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": "U1"},
     "follow": {"isUnblocked": False}},
    {"type": "unfollow", "timestamp": 1, "mode": "active", "webhookEventId": "01H",
     "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": "U1"}},
]


def _single_changes(event: dict):
    """Every event one change away: each field, at any depth, dropped or set to each tricky value,
    and a field added next to each."""
    yield event
    for key in list(event):
        yield {k: v for k, v in event.items() if k != key}
        for value in TRICKY:
            yield {**event, key: value}
        if isinstance(event[key], dict):
            for changed in _single_changes(event[key]):
                yield {**event, key: changed}
    yield {**event, "extra": "x"}


def test_every_single_change_to_each_shape_is_either_refused_or_built():
    tried = passed = 0
    for example in EXAMPLES:
        for event in _single_changes(example):
            tried += 1
            passed += sdk_shaped(event)
            check(event)
    assert sdk_shaped(EXAMPLES[0]) and tried > 500 and 0 < passed < tried / 3
