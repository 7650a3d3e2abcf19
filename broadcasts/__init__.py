"""Staff announcements (「/公告」 in chat, /staff/broadcasts on the dashboard), sent via the outbox."""


def init_app(app) -> None:
    """JSON endpoints for scripts (bearer STAFF_API_TOKEN): /staff/api/broadcasts…"""
    from broadcasts.routes import bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
