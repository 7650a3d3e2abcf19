"""Development mode (no LINE credentials): a local LINE emulator and a chat simulator page.

Never registered in production (see bot.create_app)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

import requests
from flask import Blueprint, Flask, current_app, jsonify, render_template, request

from bot.devmode.fake_line import FakeLine, create_blueprint, message_text
from bot.richmenu import RICH_MENU_ITEMS


def sign(secret: str, body: bytes) -> str:
    """X-Line-Signature exactly as LINE computes it: base64(HMAC-SHA256(channel secret, body))."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def new_event_id() -> str:
    """A ULID-shaped id like LINE's webhookEventId (26 Crockford base32 characters)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    millis = int(time.time() * 1000)
    head = "".join(alphabet[(millis >> (5 * i)) & 31] for i in reversed(range(10)))
    return head + "".join(secrets.choice(alphabet) for _ in range(16))


def build_event(fake: FakeLine, *, user_id: str, kind: str, text: str = "", data: str = "",
                params: dict | None = None, message_id: str | None = None, unblocked: bool = False) -> dict:
    event: dict = {"timestamp": int(time.time() * 1000), "mode": "active", "webhookEventId": new_event_id(),
                   "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": user_id}}
    if kind != "unfollow":
        event["replyToken"] = fake.issue_reply_token(user_id)
    message_id = message_id or str(int(time.time() * 1000000))
    if kind == "text":
        event.update(type="message", message={"type": "text", "id": message_id, "text": text,
                                              "quoteToken": secrets.token_hex(8)})
    elif kind == "sticker":
        event.update(type="message", message={"type": "sticker", "id": message_id, "packageId": "446",
                                              "stickerId": "1988", "stickerResourceType": "STATIC",
                                              "quoteToken": secrets.token_hex(8)})
    elif kind == "image":
        event.update(type="message", message={"type": "image", "id": message_id, "quoteToken": secrets.token_hex(8),
                                              "contentProvider": {"type": "line"}})
    elif kind == "postback":
        event.update(type="postback", postback={"data": data, **({"params": params} if params else {})})
    elif kind == "follow":
        event.update(type="follow", follow={"isUnblocked": unblocked})
    elif kind == "unfollow":
        event.update(type="unfollow")
    else:
        raise ValueError(kind)
    return event


def post_webhook(base_url: str, secret: str, events: list[dict], destination: str = "Udevbot") -> requests.Response:
    body = json.dumps({"destination": destination, "events": events}, ensure_ascii=False).encode("utf-8")
    return requests.post(f"{base_url}/callback", data=body, timeout=10,
                         headers={"Content-Type": "application/json", "X-Line-Signature": sign(secret, body)})


def _payload() -> dict:
    payload = request.get_json(silent=True)
    return payload if isinstance(payload, dict) else {}


def init_app(app: Flask) -> None:
    fake = FakeLine(access_token=app.config["LINE_CHANNEL_ACCESS_TOKEN"])
    app.extensions["fake_line"] = fake
    app.register_blueprint(create_blueprint(fake, name="dev_line_api"), url_prefix="/dev/line-api")

    bp = Blueprint("devmode", __name__, url_prefix="/dev", template_folder="templates")

    @bp.before_request
    def same_origin_json_only():
        """The simulator API forges webhooks as anyone and grants roles: only the simulator page
        itself may call it. A cross-site page can send a form or text/plain POST without asking
        (no CORS preflight), so a POST must be application/json and come from this origin."""
        if request.method != "POST":
            return None
        if request.mimetype != "application/json":
            return jsonify({"error": "application/json only"}), 415
        origin = request.headers.get("Origin")
        site = request.headers.get("Sec-Fetch-Site")
        if (origin is not None and origin.rstrip("/") != request.host_url.rstrip("/")) or \
                (site is not None and site not in ("same-origin", "none")):
            return jsonify({"error": "cross-origin request refused"}), 403
        return None

    @bp.get("/simulator")
    def simulator():
        return render_template("simulator.html", rich_menu=RICH_MENU_ITEMS)

    @bp.post("/simulator/api/send")
    def send():
        payload = _payload()
        user_id = str(payload.get("user") or "Udev0001")[:64]
        kind = payload.get("kind", "text")
        message_id = None
        if kind == "image":
            message_id = str(int(time.time() * 1000000))
            raw = payload.get("image_base64") or ""
            fake.contents[message_id] = (base64.b64decode(raw.split(",")[-1] or b""), payload.get("mime", "image/jpeg"))
        if kind == "follow":
            fake.followers.add(user_id)
        if kind == "unfollow":
            fake.followers.discard(user_id)
        fake.profiles.setdefault(user_id, {"displayName": payload.get("name") or f"測試用戶{user_id[-4:]}"})
        event = build_event(fake, user_id=user_id, kind=kind, text=str(payload.get("text", ""))[:5000],
                            data=str(payload.get("data", "")), params=payload.get("params"),
                            message_id=message_id, unblocked=bool(payload.get("unblocked")))
        response = post_webhook(current_app.config["PUBLIC_BASE_URL"], current_app.config["LINE_CHANNEL_SECRET"], [event])
        return jsonify({"status": response.status_code, "webhookEventId": event["webhookEventId"]})

    @bp.get("/simulator/api/messages")
    def messages():
        user_id = request.args.get("user", "Udev0001")
        after = int(request.args.get("after", 0))
        items = fake.messages_for(user_id)
        return jsonify({"messages": items[after:], "total": len(items), "loading": any(
            entry.get("chatId") == user_id for entry in fake.loading[-3:])})

    @bp.post("/simulator/api/role")
    def set_role():
        """Development only: let a simulated user try the advisor and staff features."""
        from sqlmodel import select

        from bot.models import RoleGrant

        payload = _payload()
        user_id = str(payload.get("user") or "")[:64]
        role = payload.get("role")
        database = current_app.extensions["bot"].database
        with database.write_session() as session:
            for grant in session.exec(select(RoleGrant).where(RoleGrant.line_user_id == user_id)).all():
                session.delete(grant)
            if role in ("advisor", "staff"):
                session.add(RoleGrant(line_user_id=user_id, role=role, granted_by="simulator"))
        return jsonify({"user": user_id, "role": role or "owner"})

    app.register_blueprint(bp)
    app.extensions["dev_message_text"] = message_text
