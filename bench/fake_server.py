"""The fake Messaging API as its own process for benchmarks (so it does not share the GIL with
the load generator). Records the arrival time of every message; GET /_bench/arrivals returns them."""
from __future__ import annotations

import sys
import time

from flask import jsonify

from bot.devmode.fake_line import FakeLine, create_fake_line_app


def main(port: int, token: str) -> None:
    fake = FakeLine(access_token=token)
    app = create_fake_line_app(fake)
    arrivals: dict[str, float] = {}
    original = fake._record

    def record(kind, to, messages, retry_key, **extra):
        now = time.time()
        for user in to:
            arrivals.setdefault(user, now)
        original(kind, to, messages, retry_key, **extra)

    fake._record = record

    @app.post("/_bench/token/<user_id>")
    def token_for(user_id: str):
        return jsonify({"token": fake.issue_reply_token(user_id)})

    @app.get("/_bench/arrivals")
    def get_arrivals():
        return jsonify({"arrivals": arrivals, "records": len(fake.records), "loading": len(fake.loading)})

    @app.post("/_bench/reset")
    def reset():
        fake.reset()
        arrivals.clear()
        return "{}"

    serve(app, port)


def serve(app, port: int) -> None:
    """One gunicorn worker (the fake's state lives in this process) with threads and HTTP
    keep-alive, like api.line.me: Werkzeug's server closes every connection, which would charge
    each reply a TCP handshake that LINE does not."""
    from gunicorn.app.base import BaseApplication

    class FakeServer(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"127.0.0.1:{port}", "workers": 1, "worker_class": "gthread",
                               "threads": 32, "keepalive": 60, "loglevel": "warning", "accesslog": None}.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    FakeServer().run()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
