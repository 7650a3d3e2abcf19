"""Baselines measured in the same run as the bot.

* ``bare``: a Flask app that only verifies the signature and parses with the SDK, then acks —
  the ceiling of this stack for webhook acks.
* ``echo``: a Flask app that verifies, parses and replies synchronously through the SDK — the
  floor for end-to-end reply latency (no database, no dialog, no outbox).
"""
from __future__ import annotations

import os

from flask import Flask, abort, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError


def create_bare_app() -> Flask:
    app = Flask("bare")
    parser = WebhookParser(os.environ["LINE_CHANNEL_SECRET"])

    @app.post("/callback")
    def callback():
        try:
            parser.parse(request.get_data(as_text=True), request.headers.get("X-Line-Signature", ""))
        except InvalidSignatureError:
            abort(400)
        return "{}"

    return app


def create_echo_app() -> Flask:
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, ReplyMessageRequest, TextMessage

    app = Flask("echo")
    parser = WebhookParser(os.environ["LINE_CHANNEL_SECRET"])
    api = MessagingApi(ApiClient(Configuration(access_token=os.environ["LINE_CHANNEL_ACCESS_TOKEN"],
                                               host=os.environ["LINE_API_BASE_URL"])))

    @app.post("/callback")
    def callback():
        events = parser.parse(request.get_data(as_text=True), request.headers.get("X-Line-Signature", ""))
        for event in events:
            if getattr(event, "reply_token", None):
                api.reply_message(ReplyMessageRequest(reply_token=event.reply_token,
                                                      messages=[TextMessage(text="ok")]))
        return "{}"

    return app
