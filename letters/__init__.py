"""Letters of intent (seed 002 附件二 企業合作意向書): signing in chat, the tamper-evident record,
PDFs, and the staff exports (附件一 預定輔導企業彙總表, letters list, summary)."""


def init_app(app) -> None:
    from letters import cli
    from letters.routes import bp, staff_bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
        app.register_blueprint(staff_bp)
    cli.init_app(app)
    app.config.setdefault("LETTER_LINK_DAYS", 7)
