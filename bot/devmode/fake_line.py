"""A local fake of the LINE Messaging API: records what the bot sends, checks LINE's limits,
and can inject faults. Development mode mounts it at /dev/line-api; tests and benchmarks run it as
its own HTTP server, so the real line-bot-sdk talks real HTTP to it."""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from flask import Blueprint, Flask, abort, jsonify, request

REPLY_TOKEN_TTL_SECONDS = 60


@dataclass
class Fault:
    """Answer the next ``times`` matching calls with ``status`` (or a timeout / dropped connection)."""

    endpoint: str  # "reply" | "push" | "multicast" | "broadcast" | "*"
    status: int = 500
    times: int = 1
    mode: str = "status"  # "status" | "timeout" | "drop" | "accept_then_drop" (delivered, answer lost)
    delay: float = 0.0
    retry_after: int | None = None  # Retry-After header (seconds) on a status fault, as LINE sends with 429


@dataclass
class FakeLine:
    access_token: str | None = None
    records: list[dict] = field(default_factory=list)
    reply_tokens: dict[str, dict] = field(default_factory=dict)
    retry_keys: set[str] = field(default_factory=set)
    profiles: dict[str, dict] = field(default_factory=dict)
    contents: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    loading: list[dict] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    rich_menus: dict[str, dict] = field(default_factory=dict)
    default_rich_menu: str | None = None
    followers: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)  # re-entrant: wait_for predicates read state
    cond: threading.Condition = field(default=None)
    calls: dict[str, int] = field(default_factory=dict)
    latency: float = 0.0
    # Called with the path of each profile or content download, while the bot waits for it
    # (tests check what the bot holds meanwhile, e.g. no database write lock).
    on_download: Callable[[str], None] | None = None
    injected: int = 0  # faults answered so far (resilience tests report it)

    def __post_init__(self):
        self.cond = threading.Condition(self.lock)

    # --- helpers for the simulator and tests -------------------------------------------------
    def issue_reply_token(self, user_id: str) -> str:
        token = secrets.token_hex(16)
        with self.lock:
            self.reply_tokens[token] = {"user": user_id, "issued": time.time(), "used": False}
        return token

    def reset(self) -> None:
        with self.lock:
            self.records.clear()
            self.reply_tokens.clear()
            self.retry_keys.clear()
            self.loading.clear()
            self.faults.clear()
            self.injected = 0
            self.calls.clear()
            self.contents.clear()
            self.on_download = None

    def messages_for(self, user_id: str) -> list[dict]:
        with self.lock:
            return [dict(message, _via=record["kind"]) for record in self.records
                    if user_id in record["to"] for message in record["messages"]]

    def texts_for(self, user_id: str) -> list[str]:
        return [message_text(m) for m in self.messages_for(user_id)]

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
        return True

    def record_count(self) -> int:
        with self.lock:
            return len(self.records)

    def _take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.endpoint in (endpoint, "*"):
                    fault.times -= 1
                    self.injected += 1
                    return fault
        return None

    def _record(self, kind: str, to: list[str], messages: list[dict], retry_key: str | None,
                reply_token: str | None = None) -> None:
        with self.cond:
            self.records.append({"kind": kind, "to": to, "messages": messages, "retry_key": retry_key,
                                 "reply_token": reply_token, "at": time.time()})
            self.cond.notify_all()


def message_text(message: dict) -> str:
    """A readable rendering of any message object (text, flex, image…) for assertions."""
    kind = message.get("type")
    if kind == "text":
        return message.get("text", "")
    if kind == "flex":
        return _flex_text(message.get("contents", {}))
    if kind == "image":
        return f"[image {message.get('originalContentUrl')}]"
    if kind == "sticker":
        return "[sticker]"
    return f"[{kind}]"


def _flex_text(node) -> str:
    if isinstance(node, dict):
        parts = []
        if node.get("type") == "text":
            parts.append(node.get("text", ""))
        if node.get("type") == "button":
            parts.append(f"[{node.get('action', {}).get('label', '')}]")
        for key in ("header", "hero", "body", "footer"):
            if key in node:
                parts.append(_flex_text(node[key]))
        for child in node.get("contents", []) if isinstance(node.get("contents"), list) else []:
            parts.append(_flex_text(child))
        return "\n".join(p for p in parts if p)
    return ""


class LimitViolation(Exception):
    pass


def validate_messages(messages) -> None:
    """The limits LINE enforces (and answers 400 for)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        raise LimitViolation("messages must hold 1 to 5 objects")
    for message in messages:
        if message.get("type") == "text" and not 1 <= len(message.get("text", "")) <= 5000:
            raise LimitViolation("text must be 1..5000 characters")
        items = (message.get("quickReply") or {}).get("items", [])
        if len(items) > 13:
            raise LimitViolation("quick reply holds at most 13 items")
        for item in items:
            _validate_action(item.get("action", {}))
        if message.get("type") == "flex" and len(message.get("altText", "")) > 400:
            raise LimitViolation("altText over 400 characters")


def _validate_action(action: dict) -> None:
    if len(action.get("label", "")) > 20:
        raise LimitViolation(f"quick reply label over 20 characters: {action.get('label')}")
    if len(action.get("data", "")) > 300:
        raise LimitViolation("postback data over 300 characters")


def create_blueprint(fake: FakeLine, name: str = "fake_line") -> Blueprint:
    bp = Blueprint(name, __name__)

    def authorised() -> None:
        if fake.access_token and request.headers.get("Authorization") != f"Bearer {fake.access_token}":
            abort(401)

    def downloading() -> None:
        """A profile or content download: authorised, and seen by ``fake.on_download``."""
        authorised()
        if fake.on_download:
            fake.on_download(request.path)

    def apply_fault(endpoint: str):
        fake.calls[endpoint] = fake.calls.get(endpoint, 0) + 1
        if fake.latency:
            time.sleep(fake.latency)
        fault = fake._take_fault(endpoint)
        if fault is None:
            return None
        if fault.mode == "timeout":
            time.sleep(fault.delay or 3.0)
            return jsonify({"message": "timeout"}), 504
        if fault.mode == "drop":
            _drop_connection()
        if fault.mode == "accept_then_drop":
            return "accept_then_drop"
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return jsonify({"message": f"injected {fault.status}"}), fault.status, headers

    def limit_error(error: LimitViolation):
        return jsonify({"message": "The request body has 1 error(s)", "details": [{"message": str(error)}]}), 400

    def message_call(kind: str, admit):
        """What every message endpoint shares: auth, injected faults, LINE's limits, recording.
        ``admit(body)`` returns an error response, or {"to": [...], "retry_key": …, **record extras}."""
        authorised()
        fault = apply_fault(kind)
        if fault not in (None, "accept_then_drop"):
            return fault
        body = request.get_json(force=True)
        try:
            validate_messages(body.get("messages"))
        except LimitViolation as error:
            return limit_error(error)
        admitted = admit(body)
        if not isinstance(admitted, dict):
            return admitted
        fake._record(kind, admitted.pop("to"), body["messages"], admitted.pop("retry_key", None), **admitted)
        if fault == "accept_then_drop":
            _drop_connection()
        return jsonify({"sentMessages": [{"id": secrets.token_hex(8)} for _ in body["messages"]]})

    def admit_reply(body):
        with fake.lock:
            token = fake.reply_tokens.get(body.get("replyToken", ""))
            valid = token and not token["used"] and time.time() - token["issued"] < REPLY_TOKEN_TTL_SECONDS
            if valid:
                token["used"] = True
        if not valid:
            return jsonify({"message": "Invalid reply token"}), 400
        return {"to": [token["user"]], "reply_token": body.get("replyToken")}

    @bp.post("/v2/bot/message/reply")
    def reply():
        return message_call("reply", admit_reply)

    def _send(kind: str, recipients_of):
        def admit(body):
            retry_key = request.headers.get("X-Line-Retry-Key")
            with fake.lock:
                if retry_key and retry_key in fake.retry_keys:
                    return jsonify({"message": "The retry key is already accepted"}), 409
                if retry_key:
                    fake.retry_keys.add(retry_key)
            recipients = recipients_of(body)
            if kind == "multicast" and not 1 <= len(recipients) <= 500:
                return jsonify({"message": "to must hold 1..500 user ids"}), 400
            return {"to": recipients, "retry_key": retry_key}
        return message_call(kind, admit)

    @bp.post("/v2/bot/message/push")
    def push():
        return _send("push", lambda body: [body.get("to")])

    @bp.post("/v2/bot/message/multicast")
    def multicast():
        return _send("multicast", lambda body: list(body.get("to") or []))

    @bp.post("/v2/bot/message/broadcast")
    def broadcast():
        return _send("broadcast", lambda body: sorted(fake.followers))

    @bp.post("/v2/bot/chat/loading/start")
    def loading():
        authorised()
        fake.loading.append(request.get_json(force=True))
        return jsonify({}), 202

    @bp.get("/v2/bot/profile/<user_id>")
    def profile(user_id: str):
        downloading()
        known = fake.profiles.get(user_id) or {"displayName": f"測試用戶{user_id[-4:]}"}
        return jsonify({"userId": user_id, "displayName": known.get("displayName"),
                        "pictureUrl": known.get("pictureUrl"), "language": "zh-TW"})

    @bp.get("/v2/bot/message/<message_id>/content")
    def content(message_id: str):
        downloading()
        if message_id not in fake.contents:
            return jsonify({"message": "Not found"}), 404
        data, mime = fake.contents[message_id]
        return data, 200, {"Content-Type": mime}

    @bp.post("/v2/bot/richmenu")
    def create_rich_menu():
        authorised()
        menu_id = "richmenu-" + secrets.token_hex(8)
        fake.rich_menus[menu_id] = request.get_json(force=True)
        return jsonify({"richMenuId": menu_id})

    @bp.post("/v2/bot/richmenu/<menu_id>/content")
    def rich_menu_image(menu_id: str):
        authorised()
        if menu_id not in fake.rich_menus:
            return jsonify({"message": "Not found"}), 404
        fake.rich_menus[menu_id]["_image_bytes"] = len(request.get_data())
        return jsonify({})

    @bp.post("/v2/bot/user/all/richmenu/<menu_id>")
    def set_default_rich_menu(menu_id: str):
        authorised()
        fake.default_rich_menu = menu_id
        return jsonify({})

    return bp


def _drop_connection():
    """Close the client socket without an answer (a dropped connection)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        import socket

        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
    abort(500)


def create_fake_line_app(fake: FakeLine) -> Flask:
    app = Flask("fake_line")
    app.register_blueprint(create_blueprint(fake))
    return app
