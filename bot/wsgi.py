"""Entry point for the web process (bot.serve, Procfile): the app with its background event workers running."""
from bot import create_app


def create_web_app():
    app = create_app()
    app.extensions["bot"].start_background()
    return app
