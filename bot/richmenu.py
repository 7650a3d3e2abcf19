"""The rich menu: six large buttons under the chat (2 rows x 3), each sending a menu phrase.

``flask --app bot richmenu setup`` creates it through the Messaging API (image drawn with Pillow)
and makes it the default for every user. The simulator draws the same items."""
from __future__ import annotations

import io

import click
from flask import current_app
from flask.cli import AppGroup

from bot.texts import t

RICH_MENU_ITEMS = [
    {"key": "eligibility", "icon": "✅"}, {"key": "faq", "icon": "💬"}, {"key": "letter", "icon": "✍️"},
    {"key": "reminders", "icon": "⏰"}, {"key": "my_data", "icon": "🔒"}, {"key": "staff", "icon": "🙋"},
]
for _item in RICH_MENU_ITEMS:
    _item["label"] = t(f"core.menu_{_item['key']}")

WIDTH, HEIGHT = 2500, 1686  # LINE's full-size rich menu image


def rich_menu_definition() -> dict:
    cell_w, cell_h = WIDTH // 3, HEIGHT // 2
    areas = []
    for index, item in enumerate(RICH_MENU_ITEMS):
        x, y = (index % 3) * cell_w, (index // 3) * cell_h
        areas.append({"bounds": {"x": x, "y": y, "width": cell_w, "height": cell_h},
                      "action": {"type": "message", "label": item["label"][:20], "text": item["label"]}})
    return {"size": {"width": WIDTH, "height": HEIGHT}, "selected": True, "name": "main-menu",
            "chatBarText": "選單", "areas": areas}


def rich_menu_image() -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (WIDTH, HEIGHT), "#FFFFFF")
    draw = ImageDraw.Draw(image)
    font = None
    for path in ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"):
        try:
            font = ImageFont.truetype(path, 110)
            break
        except OSError:
            continue
    font = font or ImageFont.load_default()
    cell_w, cell_h = WIDTH // 3, HEIGHT // 2
    for index, item in enumerate(RICH_MENU_ITEMS):
        x, y = (index % 3) * cell_w, (index // 3) * cell_h
        draw.rectangle([x + 8, y + 8, x + cell_w - 8, y + cell_h - 8], fill="#E9F9EF", outline="#06C755", width=6)
        draw.text((x + cell_w / 2, y + cell_h / 2), item["label"], fill="#1F3D2B", font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


richmenu_cli = AppGroup("richmenu", help="Create the rich menu and make it the default.")


@richmenu_cli.command("setup")
def setup() -> None:
    import requests

    config = current_app.config
    headers = {"Authorization": f"Bearer {config['LINE_CHANNEL_ACCESS_TOKEN']}"}
    created = requests.post(f"{config['LINE_API_BASE_URL']}/v2/bot/richmenu", json=rich_menu_definition(),
                            headers=headers, timeout=10)
    created.raise_for_status()
    menu_id = created.json()["richMenuId"]
    upload = requests.post(f"{config['LINE_DATA_API_BASE_URL']}/v2/bot/richmenu/{menu_id}/content",
                           data=rich_menu_image(), headers={**headers, "Content-Type": "image/png"}, timeout=30)
    upload.raise_for_status()
    requests.post(f"{config['LINE_API_BASE_URL']}/v2/bot/user/all/richmenu/{menu_id}", headers=headers,
                  timeout=10).raise_for_status()
    click.echo(f"Rich menu {menu_id} is now the default.")
