"""Staff announcements (「/公告」 in chat, /staff/broadcasts on the dashboard), sent via the outbox."""


def init_app(app) -> None:
    """JSON endpoints for scripts (bearer STAFF_API_TOKEN): /staff/api/broadcasts…"""
    from broadcasts.routes import bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    # Chat-started broadcasts are delivered by the process's own outbox sender (as the API's).
    runtime = app.extensions["bot"]
    runtime.services.providers["outbox_sender"] = lambda services: runtime.sender
