"""What the bot says, as small value objects, and their translation to LINE message JSON.

Steps and handlers return these objects (pure data); only the outbound gateway turns them into
Messaging API payloads. LINE's limits are enforced here, by construction:
  * text message: 5,000 characters      (longer text is split on paragraph/line boundaries)
  * quick reply: at most 13 items        (more is a programming error: ValueError)
  * action label: at most 20 characters  (longer labels are shortened with "…")
  * postback data: at most 300 characters (more is a programming error: ValueError)
  * at most 5 message objects per reply/push request (the gateway batches; see bot.gateway)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence, Union
from urllib.parse import urlencode

TEXT_LIMIT = 5000
QUICK_REPLY_LIMIT = 13
LABEL_LIMIT = 20
POSTBACK_DATA_LIMIT = 300
DISPLAY_TEXT_LIMIT = 300
MESSAGES_PER_REQUEST = 5
ALT_TEXT_LIMIT = 400
FLEX_BUTTON_LABEL_LIMIT = 40

ChoiceKind = Literal["message", "postback", "datetime", "date", "time", "uri", "camera", "cameraRoll", "location"]


def shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def encode_postback(**fields: object) -> str:
    """Compact ``k=v&…`` postback data; LINE allows 300 characters."""
    data = urlencode({k: v for k, v in fields.items() if v is not None and v != ""})
    if len(data) > POSTBACK_DATA_LIMIT:
        raise ValueError(f"postback data is {len(data)} chars; LINE allows {POSTBACK_DATA_LIMIT}")
    return data


@dataclass(frozen=True)
class Choice:
    """A tappable option: quick-reply item or card button."""

    label: str
    text: str | None = None  # message action: what the user "says" (defaults to label)
    data: str | None = None  # postback action data (already encoded, <= 300 chars)
    display: str | None = None  # postback display text shown in the chat
    kind: ChoiceKind = "message"
    uri: str | None = None
    initial: str | None = None  # datetime picker
    min: str | None = None
    max: str | None = None

    def __post_init__(self):
        if self.data is not None and len(self.data) > POSTBACK_DATA_LIMIT:
            raise ValueError(f"postback data over {POSTBACK_DATA_LIMIT} chars: {self.data[:40]}…")
        if self.kind == "message" and self.data is not None:
            object.__setattr__(self, "kind", "postback")

    def action(self, label_limit: int = LABEL_LIMIT) -> dict:
        label = shorten(self.label, label_limit)
        if self.kind == "message":
            return {"type": "message", "label": label, "text": shorten(self.text or self.label, TEXT_LIMIT)}
        if self.kind == "postback":
            action = {"type": "postback", "label": label, "data": self.data or ""}
            if self.display:
                action["displayText"] = shorten(self.display, DISPLAY_TEXT_LIMIT)
            return action
        if self.kind in ("datetime", "date", "time"):
            action = {"type": "datetimepicker", "label": label, "data": self.data or "", "mode": self.kind}
            for key, value in (("initial", self.initial), ("min", self.min), ("max", self.max)):
                if value:
                    action[key] = value
            return action
        if self.kind == "uri":
            return {"type": "uri", "label": label, "uri": self.uri}
        return {"type": self.kind, "label": label}


def _check_quick_replies(items: Sequence[Choice]) -> tuple[Choice, ...]:
    items = tuple(items)
    if len(items) > QUICK_REPLY_LIMIT:
        raise ValueError(f"{len(items)} quick reply items; LINE allows {QUICK_REPLY_LIMIT}")
    return items


@dataclass(frozen=True)
class Text:
    text: str
    quick_replies: tuple[Choice, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "quick_replies", _check_quick_replies(self.quick_replies))


@dataclass(frozen=True)
class Gauge:
    """A level bar built from Flex boxes (no image to host): ``steps`` cells, the first ``value``
    filled, with a caption above (「現在：第 3 級」)."""

    caption: str
    value: int
    steps: int = 5
    color: str = "#06C755"

    def __post_init__(self):
        if not 1 <= self.steps <= 10 or not 0 <= self.value <= self.steps:
            raise ValueError(f"gauge {self.value}/{self.steps}")


@dataclass(frozen=True)
class Card:
    """A Flex bubble: title, optional level bars, key/value rows and body text, buttons (<= 4 fit a phone)."""

    title: str
    rows: tuple[tuple[str, str], ...] = ()
    body: str = ""
    gauges: tuple[Gauge, ...] = ()
    buttons: tuple[Choice, ...] = ()
    note: str = ""
    alt_text: str = ""
    accent: str = "#06C755"  # LINE green; verdicts use their own colour
    quick_replies: tuple[Choice, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "rows", tuple(tuple(r) for r in self.rows))
        object.__setattr__(self, "buttons", tuple(self.buttons))
        object.__setattr__(self, "gauges", tuple(self.gauges))
        object.__setattr__(self, "quick_replies", _check_quick_replies(self.quick_replies))


@dataclass(frozen=True)
class Carousel:
    cards: tuple[Card, ...]
    alt_text: str = ""
    quick_replies: tuple[Choice, ...] = ()

    def __post_init__(self):
        if not 1 <= len(self.cards) <= 12:  # Flex carousel holds at most 12 bubbles
            raise ValueError("a carousel holds 1 to 12 cards")
        object.__setattr__(self, "quick_replies", _check_quick_replies(self.quick_replies))


@dataclass(frozen=True)
class Image:
    url: str
    preview_url: str = ""


@dataclass(frozen=True)
class Sticker:
    package_id: str
    sticker_id: str


Reply = Union[Text, Card, Carousel, Image, Sticker]


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split on paragraph, then line, then hard boundaries so each part fits LINE's text limit."""
    text = text.strip() or "…"
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


def _quick_reply(items: Sequence[Choice]) -> dict | None:
    if not items:
        return None
    return {"items": [{"type": "action", "action": choice.action()} for choice in items]}


def _flex_text(text: str, **style) -> dict:
    return {"type": "text", "text": text or " ", "wrap": True, **style}


def _gauge(gauge: Gauge) -> dict:
    cells = [{"type": "box", "layout": "vertical", "contents": [], "height": "12px", "flex": 1, "cornerRadius": "3px",
              "backgroundColor": gauge.color if index < gauge.value else "#E5E5E5"} for index in range(gauge.steps)]
    return {"type": "box", "layout": "vertical", "margin": "md", "spacing": "xs", "contents": [
        _flex_text(gauge.caption, size="sm", weight="bold"),
        {"type": "box", "layout": "horizontal", "spacing": "xs", "contents": cells}]}


def _bubble(card: Card) -> dict:
    body: list[dict] = [_flex_text(card.title, weight="bold", size="lg", color=card.accent)]
    body += [_gauge(gauge) for gauge in card.gauges]
    if card.rows:
        body.append({"type": "separator", "margin": "md"})
        for key, value in card.rows:
            body.append({
                "type": "box", "layout": "baseline", "spacing": "sm", "margin": "sm",
                "contents": [
                    _flex_text(str(key), size="sm", color="#888888", flex=2),
                    _flex_text(str(value) if value not in (None, "") else "—", size="sm", flex=4),
                ],
            })
    if card.body:
        body.append(_flex_text(card.body, size="sm", margin="md"))
    if card.note:
        body.append(_flex_text(card.note, size="xs", color="#888888", margin="md"))
    bubble: dict = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": body}}
    if card.buttons:
        bubble["footer"] = {
            "type": "box", "layout": "vertical", "spacing": "sm",
            "contents": [
                {"type": "button", "style": "primary" if i == 0 else "secondary", "height": "sm",
                 "color": card.accent if i == 0 else None,
                 "action": button.action(FLEX_BUTTON_LABEL_LIMIT)}
                for i, button in enumerate(card.buttons)
            ],
        }
        for button in bubble["footer"]["contents"]:
            if button["color"] is None:
                del button["color"]
    return bubble


def _card_alt_text(card: Card) -> str:
    alt = card.alt_text or card.title + (("：" + card.body) if card.body else "")
    return shorten(alt, ALT_TEXT_LIMIT)


def to_line_messages(replies: Sequence[Reply]) -> list[dict]:
    """Translate replies to Messaging API message objects (may be more than 5; see batching)."""
    messages: list[dict] = []
    for reply in replies:
        if isinstance(reply, Text):
            for part in split_text(reply.text):
                messages.append({"type": "text", "text": part})
            quick = _quick_reply(reply.quick_replies)
        elif isinstance(reply, Card):
            messages.append({"type": "flex", "altText": _card_alt_text(reply), "contents": _bubble(reply)})
            quick = _quick_reply(reply.quick_replies)
        elif isinstance(reply, Carousel):
            alt = reply.alt_text or " / ".join(card.title for card in reply.cards)
            messages.append({"type": "flex", "altText": shorten(alt, ALT_TEXT_LIMIT),
                             "contents": {"type": "carousel", "contents": [_bubble(c) for c in reply.cards]}})
            quick = _quick_reply(reply.quick_replies)
        elif isinstance(reply, Image):
            messages.append({"type": "image", "originalContentUrl": reply.url,
                             "previewImageUrl": reply.preview_url or reply.url})
            quick = None
        elif isinstance(reply, Sticker):
            messages.append({"type": "sticker", "packageId": reply.package_id, "stickerId": reply.sticker_id})
            quick = None
        else:  # pragma: no cover - programming error
            raise TypeError(f"not a reply: {reply!r}")
        if quick:
            messages[-1]["quickReply"] = quick
    return messages


def batches(messages: list[dict], size: int = MESSAGES_PER_REQUEST) -> list[list[dict]]:
    """LINE accepts at most 5 messages per request. Quick replies only show on the last message
    of a request, so a quick reply that is not on a batch's last message is moved there."""
    groups = [messages[i:i + size] for i in range(0, len(messages), size)] or [[]]
    return groups
