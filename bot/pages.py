"""Small public pages: the privacy statement linked from the consent question, and the root."""
from flask import Blueprint, current_app, redirect, render_template_string, url_for

from bot.texts import t

bp = Blueprint("pages", __name__)

PRIVACY_PAGE = """<!doctype html><html lang="zh-Hant-TW"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>個人資料蒐集與利用聲明</title>
<style>body{font-family:"Noto Sans CJK TC",sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem;line-height:1.7}</style>
</head><body><h1>個人資料蒐集與利用聲明</h1><pre style="white-space:pre-wrap;font:inherit">{{ text }}</pre>
<p>依據：112年推動企業數位共好計畫 提案作業規範 捌、個人資料蒐集與利用聲明。</p></body></html>"""


@bp.get("/privacy")
def privacy():
    return render_template_string(PRIVACY_PAGE, text=t("core.privacy_statement"))


@bp.get("/")
def index():
    if current_app.config.get("DEV_MODE"):
        return redirect(url_for("devmode.simulator"))
    return {"service": "line-bot", "status": "ok"}
