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
    gateway = current_app.extensions["bot"].gateway
    menu_id = gateway.install_rich_menu(definition=rich_menu_definition(), image_png=rich_menu_image())
    click.echo(f"Rich menu {menu_id} is now the default.")
