"""A real bot process for the crash tests: ``python -m tests.chaos.run_app DB_URL FAKE_LINE_URL PORT``.

Serves the app (webhook + background event workers + outbox pump) over HTTP until killed. Leases
are shortened so a restarted process picks up a dead one's work within seconds instead of the
production 20-60 s (the tests SIGKILL it on purpose)."""
from __future__ import annotations

import sys
from datetime import timedelta

from werkzeug.serving import make_server


def main() -> None:
    database_url, fake_url, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from bot.outbox import OutboxSender
    from tests.conftest import base_config

    OutboxSender.recover_stuck.__kwdefaults__["older_than"] = timedelta(seconds=2)

    class Fake:  # base_config only reads the fake's URL
        url = fake_url

    from bot import create_app

    app = create_app(base_config(database_url, Fake(), EVENT_LEASE_SECONDS=2))
    app.extensions["bot"].start_background()
    server = make_server("127.0.0.1", port, app, threaded=True)
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
