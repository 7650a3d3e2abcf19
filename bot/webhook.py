"""POST /callback: verify, parse, store, ack. Never waits on slow work (LINE wants 200 in 2 s)."""
from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify, request
from linebot.v3 import WebhookParser

from bot.events import line_id


log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)

# Fields the v3 SDK's models require on every event; a body without them is not a LINE webhook.
REQUIRED_EVENT_FIELDS = ("type", "timestamp", "mode", "webhookEventId", "deliveryContext")
_ACK = b"{}"


def _bad_request(reason: str):
    log.info("webhook rejected", extra={"reason": reason})
    return jsonify({"error": reason}), 400


def _well_formed(body: dict) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return False
    for event in body["events"]:
        if not isinstance(event, dict) or any(field not in event for field in REQUIRED_EVENT_FIELDS):
            return False
        if line_id(event["webhookEventId"]) is None:  # a ULID; a NUL cannot even be stored
            return False
        if not isinstance(event["deliveryContext"], dict) or not isinstance(event["type"], str):
            return False
    return True


# The shapes most webhooks have (a person's text message, a button's postback, follow, unfollow),
# field by field as the SDK's models declare them (linebot.v3.webhooks: StrictStr, StrictInt,
# StrictBool, EventMode; pydantic's strict types take exactly str, int but not bool, and bool). An
# event of one of these shapes is one the SDK's parser accepts, so the ack need not build its
# pydantic model tree, which was a fifth of the ack's CPU. Anything else (another type, a field more
# or less, another value type) is left to the SDK's parser. tests/test_webhook_shapes.py checks
# against the installed SDK that whatever passes here, the SDK accepts.
_EVENT_FIELDS = frozenset(("type", "source", "timestamp", "mode", "webhookEventId", "deliveryContext"))
_TEXT_FIELDS = frozenset(("type", "id", "text", "quoteToken", "quotedMessageId", "markAsReadToken"))
_OPTIONAL_TEXT_FIELDS = ("quotedMessageId", "markAsReadToken")


def _text_message(message) -> bool:
    return (type(message) is dict and message.keys() <= _TEXT_FIELDS and message.get("type") == "text"
            and type(message.get("id")) is str and type(message.get("text")) is str
            and type(message.get("quoteToken")) is str
            and all(type(message[name]) is str for name in _OPTIONAL_TEXT_FIELDS if name in message))


def _postback(postback) -> bool:
    if type(postback) is not dict or not postback.keys() <= {"data", "params"} or type(postback.get("data")) is not str:
        return False
    params = postback.get("params", {})
    return type(params) is dict and all(type(value) is str for value in params.values())


# type → (its own fields, check of the event's own fields, reply token required)
_SHAPES = {
    "message": (frozenset(("replyToken", "message")), lambda event: _text_message(event.get("message")), False),
    "postback": (frozenset(("replyToken", "postback")), lambda event: _postback(event.get("postback")), False),
    "follow": (frozenset(("replyToken", "follow")), lambda event: (
        type(event.get("follow")) is dict and event["follow"].keys() == {"isUnblocked"}
        and type(event["follow"]["isUnblocked"]) is bool), True),
    "unfollow": (frozenset(), lambda event: True, False),
}


def sdk_shaped(event) -> bool:
    """Whether ``event`` has one of the common shapes above (and so passes the SDK's parser)."""
    if type(event) is not dict or type(event.get("type")) is not str:
        return False
    shape = _SHAPES.get(event["type"])
    if shape is None:
        return False
    own_fields, own_check, reply_token_required = shape
    if not event.keys() <= _EVENT_FIELDS | own_fields:
        return False
    source = event.get("source", {"type": "user", "userId": ""})
    delivery = event.get("deliveryContext")
    reply_token = event.get("replyToken", "" if not reply_token_required else None)
    return (type(event.get("timestamp")) is int and event.get("mode") in ("active", "standby")
            and type(event.get("webhookEventId")) is str
            and type(delivery) is dict and delivery.keys() == {"isRedelivery"} and type(delivery["isRedelivery"]) is bool
            and type(source) is dict and source.keys() == {"type", "userId"} and source["type"] == "user"
            and type(source["userId"]) is str and type(reply_token) is str and own_check(event))


@bp.post("/callback")
def callback():
    bot = current_app.extensions["bot"]
    signature = request.headers.get("X-Line-Signature")  # werkzeug headers: case-insensitive
    if not signature:
        return _bad_request("missing signature")
    raw = request.get_data()
    try:
        body_text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _bad_request("body is not UTF-8")
    parser: WebhookParser = bot.parser
    if not parser.signature_validator.validate(body_text, signature):  # the SDK's check, on the raw body
        return _bad_request("invalid signature")
    try:
        body = json.loads(body_text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the decoder goes
        return _bad_request("invalid JSON")
    if not (type(body) is dict and type(body.get("events")) is list and all(map(sdk_shaped, body["events"]))):
        try:
            parser.parse(body_text, signature)  # the strict v3 models decide
        except Exception as error:  # they raise on malformed events: a 400, never a 500
            return _bad_request(f"unparseable ({type(error).__name__})")
    if not _well_formed(body):
        return _bad_request("not a LINE webhook body")
    try:
        new_events = bot.inbox.store(body["events"])
    except Exception:
        # Database unavailable: a non-2xx makes LINE redeliver later; nothing was stored.
        log.exception("could not store webhook events")
        return jsonify({"error": "temporarily unavailable"}), 503
    if bot.processes_events:
        bot.worker.submit(new_events)  # else the worker process polls for them
    return current_app.response_class(_ACK, mimetype="application/json")
