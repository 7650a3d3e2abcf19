"""The fake Messaging API for the webhook benchmarks, as its own process (so it does not share
the GIL with the load generator). Records when each user's first message arrives;
GET /_bench/arrivals returns them.

An aiohttp handler rather than the development fake (bot.devmode.fake_line, a Flask app that
validates every LINE limit and keeps every message): it shares the 2 cores with what it measures,
and api.line.me costs the bot nothing locally. At 200 events/s the Flask fake under gunicorn took
~1.5 ms of CPU per reply, this one ~0.6 ms. Its state needs no lock: every request runs on the
one event loop. It still behaves as LINE does where the bot's path
depends on it: bearer token checked, a reply token works once (else 400 "Invalid reply token",
which sends the bot down its push path), 1..5 messages per request, X-Line-Retry-Key seen twice
-> 409, loading animation 202, profiles.
"""
from __future__ import annotations

import json
import secrets
import sys
import time

from aiohttp import web

MAX_MESSAGES_PER_REQUEST = 5  # LINE: at most 5 message objects per reply/push/multicast


class LeanFake:
    def __init__(self, token: str):
        self.authorization = f"Bearer {token}"
        self.reset()

    def reset(self) -> None:
        self.tokens: dict[str, str] = {}  # reply token -> user, removed when used
        self.arrivals: dict[str, float] = {}
        self.records = 0
        self.loading = 0
        self.retry_keys: set[str] = set()

    async def handle(self, request: web.Request) -> web.Response:
        method, path = request.method, request.path
        if path.startswith("/_bench/"):
            status, body = self.control(method, path)
        elif request.headers.get("Authorization") != self.authorization:
            status, body = 401, {"message": "Authentication failed"}
        elif method == "POST":
            payload = json.loads(await request.read() or b"{}")
            status, body = self.post(path, payload, request.headers.get("X-Line-Retry-Key"))
        elif method == "GET" and path.startswith("/v2/bot/profile/"):
            user = path.rsplit("/", 1)[-1]
            status, body = 200, {"userId": user, "displayName": f"測試用戶{user[-4:]}"}
        else:
            status, body = 404, {"message": "Not found"}
        return web.Response(status=status, body=json.dumps(body, ensure_ascii=False).encode(),
                            content_type="application/json")

    def post(self, path: str, payload: dict, retry_key: str | None) -> tuple[int, dict]:
        if path == "/v2/bot/chat/loading/start":
            self.loading += 1
            return 202, {}
        messages = payload.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES_PER_REQUEST:
            return 400, {"message": "The request body has 1 error(s)"}
        if path == "/v2/bot/message/reply":
            user = self.tokens.pop(payload.get("replyToken", ""), None)
            if user is None:
                return 400, {"message": "Invalid reply token"}
            recipients = [user]
        elif path in ("/v2/bot/message/push", "/v2/bot/message/multicast"):
            if retry_key and retry_key in self.retry_keys:
                return 409, {"message": "The retry key is already accepted"}
            if retry_key:
                self.retry_keys.add(retry_key)
            to = payload.get("to")
            recipients = to if isinstance(to, list) else [to]
        else:
            return 404, {"message": "Not found"}
        now = time.time()
        for user in recipients:
            self.arrivals.setdefault(user, now)
        self.records += 1
        return 200, {"sentMessages": [{"id": secrets.token_hex(8)} for _ in messages]}

    def control(self, method: str, path: str) -> tuple[int, dict]:
        if method == "POST" and path.startswith("/_bench/token/"):
            token = secrets.token_hex(16)
            self.tokens[token] = path.rsplit("/", 1)[-1]
            return 200, {"token": token}
        if path == "/_bench/arrivals":
            return 200, {"arrivals": self.arrivals, "records": self.records, "loading": self.loading}
        if method == "POST" and path == "/_bench/reset":
            self.reset()
            return 200, {}
        return 404, {"message": "Not found"}


def serve(fake: LeanFake, port: int) -> None:
    """aiohttp's server (already installed with line-bot-sdk): one event loop, HTTP keep-alive
    like api.line.me (a server that closes every connection would charge each reply a TCP
    handshake that LINE does not), ~0.2 ms of CPU per request where gunicorn's threads took ~0.9."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, keepalive_timeout=60)


if __name__ == "__main__":
    serve(LeanFake(sys.argv[2]), int(sys.argv[1]))
