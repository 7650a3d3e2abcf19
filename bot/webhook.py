"""POST /callback: verify, parse, store, ack. Never waits on slow work (LINE wants 200 in 2 s)."""
from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError


log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)

# Fields the v3 SDK's models require on every event; a body without them is not a LINE webhook.
REQUIRED_EVENT_FIELDS = ("type", "timestamp", "mode", "webhookEventId", "deliveryContext")


def _bad_request(reason: str):
    log.info("webhook rejected", extra={"reason": reason})
    return jsonify({"error": reason}), 400


def _well_formed(body: dict) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return False
    for event in body["events"]:
        if not isinstance(event, dict) or any(field not in event for field in REQUIRED_EVENT_FIELDS):
            return False
        event_id = event["webhookEventId"]
        # LINE's ids are printable ASCII (ULIDs); a NUL or control character is not a LINE id, and
        # PostgreSQL text cannot even store NUL.
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 64 or not event_id.isprintable():
            return False
        if not isinstance(event["deliveryContext"], dict) or not isinstance(event["type"], str):
            return False
    return True


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
    try:
        parser.parse(body_text, signature)  # verifies the signature on the raw body, then parses
    except InvalidSignatureError:
        return _bad_request("invalid signature")
    except Exception as error:  # the strict v3 models raise on malformed events: a 400, never a 500
        return _bad_request(f"unparseable ({type(error).__name__})")
    try:
        body = json.loads(body_text)
    except ValueError:
        return _bad_request("invalid JSON")
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
    return jsonify({}), 200
