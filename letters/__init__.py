"""Letters of intent (seed 002 附件二 企業合作意向書): signing in chat, the tamper-evident record,
PDFs, and the staff exports (附件一 預定輔導企業彙總表, letters list, summary)."""
import os

# Optional settings, read from the environment at app creation (not in the CONTRACT's list):
#   LETTERS_LIFF_ID    open the sign page as a LIFF app (https://liff.line.me/<id>/letters/sign/…)
#   LETTER_LINK_DAYS   how long an owner's PDF link stays valid (default 7)
#   LETTERS_FONT_PATH  a Traditional Chinese font for PDFs when Noto Sans CJK is elsewhere
ENVIRONMENT_SETTINGS = ("LETTERS_LIFF_ID", "LETTER_LINK_DAYS", "LETTERS_FONT_PATH")


def init_app(app) -> None:
    from letters import cli
    from letters.routes import bp, staff_bp
    from letters.verify import bp as verify_bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
        app.register_blueprint(staff_bp)
        app.register_blueprint(verify_bp)
    cli.init_app(app)
    if not app.config.get("IGNORE_ENVIRONMENT"):
        for name in ENVIRONMENT_SETTINGS:
            if os.environ.get(name) and name not in app.config:
                app.config[name] = os.environ[name]
    app.config.setdefault("LETTER_LINK_DAYS", 7)
