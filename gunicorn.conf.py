"""gunicorn settings for the web process (Procfile `web:`)."""
import os

# Import the code (not the app) in the master so forked workers boot in well under a second:
# the LINE SDK alone takes seconds to import. Each worker still builds its own app and threads.
import bot  # noqa: F401,E402
import bot.config  # noqa: E402
import bot.wsgi  # noqa: F401,E402

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
# Half the cores (bot.config.half_the_cores): acks are cheap; event processing needs more.
workers = int(os.environ.get("WEB_CONCURRENCY") or bot.config.half_the_cores())
# Request threads mostly wait (an ack waits for its group commit, bot/events.EventInbox): the
# more acks queue meanwhile, the more one commit serves. 16 rather than 8 took the ack bench
# from ~0.35 to ~0.5-0.7 of the bare app with the worker running (make bench, webhook).
threads = int(os.environ.get("WEB_THREADS") or 16)
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs JSON itself; access lines would carry no extra value


def worker_exit(server, worker):
    """Let in-flight events finish (their state is in the database either way)."""
    app = getattr(worker, "wsgi", None)
    runtime = getattr(app, "extensions", {}).get("bot") if app else None
    if runtime:
        runtime.worker.wait_idle(timeout=10)
        runtime.stop_background()
