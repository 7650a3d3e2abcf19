"""Bad input at the webhook: hostile bodies and headers get 400 or 200, never a 5xx; a rejected
request changes nothing in the database; an accepted event is processed without an error.

The fast test runs a few hundred examples; the slow one (``make chaos``) runs 10,000 through
Flask's test client plus a sample over real HTTP."""
from __future__ import annotations

import http.client
import random

import pytest
from hypothesis import HealthCheck, given, settings
from sqlmodel import select

from bot.events import claim_with_payload
from bot.models import InboundEvent
from tests.chaos.harness import fresh_database_url, isolated_app, record_counts, snapshot
from hypothesis import strategies as st

from tests.chaos.hostile import random_request, webhook_requests
from tests.conftest import CHANNEL_SECRET, ServerThread

FUZZ_SETTINGS = dict(deadline=None, database=None, derandomize=False,
                     suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, fake_line, app):
    # On PostgreSQL the "fresh" database is the test server's one database, which the session's
    # app also uses: its sweeper would process the events this module leaves pending (the bulk
    # run processes 1 in N) and add outbox rows between two snapshots (seen once in a full run).
    app.extensions["bot"].stop_background()
    url = fresh_database_url(tmp_path_factory.mktemp("fuzz"))
    application = isolated_app(url, fake_line)  # no background threads: events are run inline
    yield application
    application.extensions["bot"].database.dispose()
    app.extensions["bot"].start_background()


class Tally:
    def __init__(self, process_every: int = 1):
        self.tried = self.accepted = self.rejected = self.events_processed = 0
        self.statuses: dict[int, int] = {}
        self.process_every = process_every  # run 1 in N accepted bodies' events inline (bulk run)
        self.state = None  # database snapshot after the previous example


def _check_one(app, tally: Tally, body: bytes, headers: dict, signed: bool, post) -> None:
    runtime = app.extensions["bot"]
    before = tally.state or snapshot(runtime.database)
    status = post(body, headers)
    tally.tried += 1
    tally.statuses[status] = tally.statuses.get(status, 0) + 1
    assert status in (200, 400), f"status {status} for body {body[:200]!r}"
    if status != 200:
        tally.rejected += 1
        tally.state = snapshot(runtime.database)
        assert tally.state == before, "a rejected request changed the database"
        return
    tally.accepted += 1
    tally.state = None  # if processing fails below, the next example snapshots afresh
    assert signed, "a request without a valid signature was accepted"
    # The accepted events are run exactly as a worker would, but inline so an error surfaces here.
    with runtime.database.session() as session:
        new_ids = session.exec(select(InboundEvent.id).where(InboundEvent.id > (before[1] or 0))
                               .order_by(InboundEvent.id)).all()
    if tally.accepted % tally.process_every == 0:
        for event_id in new_ids:
            claim_number, payload, received_at = claim_with_payload(runtime.database, event_id)
            assert claim_number == 1
            runtime.dispatcher.process(event_id, claim_number, payload=payload, received_at=received_at)
            with runtime.database.session() as session:
                assert session.get(InboundEvent, event_id).status == "done"
            tally.events_processed += 1
    tally.state = snapshot(runtime.database)


def _client_post(app):
    client = app.test_client()

    def post(body, headers):
        return client.post("/callback", data=body, headers=headers).status_code
    return post


BULK_BATCH = 10  # requests per hypothesis example in the bulk run


def _run(app, tally: Tally, examples: int, post, *, bulk: bool = False) -> None:
    """bulk: each hypothesis example is a seed from which tests.chaos.hostile builds BULK_BATCH
    requests (structured strategies cost milliseconds per example: 10,000 would take minutes)."""
    strategy = st.integers(0, 2**63) if bulk else webhook_requests(CHANNEL_SECRET)

    @settings(max_examples=examples // BULK_BATCH if bulk else examples, **FUZZ_SETTINGS)
    @given(strategy)
    def check(drawn):
        if not bulk:
            _check_one(app, tally, *drawn, post)
            return
        for index in range(BULK_BATCH):
            # random.Random(seed * BULK_BATCH + index) rebuilds a failing request.
            request_parts = random_request(random.Random(drawn * BULK_BATCH + index), CHANNEL_SECRET)
            _check_one(app, tally, *request_parts, post)

    check()


def test_hostile_webhooks_fast(fuzz_app):
    tally = Tally()
    _run(fuzz_app, tally, 100, _client_post(fuzz_app))
    assert tally.accepted and tally.rejected  # the generator reaches both sides


@pytest.mark.slow
def test_hostile_webhooks_10000(fuzz_app):
    tally = Tally(process_every=5)
    _run(fuzz_app, tally, 10_000, _client_post(fuzz_app), bulk=True)
    tally.process_every = 1
    _run(fuzz_app, tally, 500, _client_post(fuzz_app))
    server = ServerThread(fuzz_app)
    host, port = server.url.removeprefix("http://").split(":")

    def post_http(body, headers):
        # http.client, not requests: requests refuses to send some hostile header values (a
        # signature of " "), which a real sender can still put on the wire.
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            raw = {(k.encode() if isinstance(k, str) else k): (v.encode() if isinstance(v, str) else v)
                   for k, v in headers.items()}
            connection.request("POST", "/callback", body=body, headers=raw)
            return connection.getresponse().status
        finally:
            connection.close()
    try:
        over_http = Tally()
        _run(fuzz_app, over_http, 200, post_http)
    finally:
        server.stop()
    record_counts("bad_input_webhook", inputs_tried=tally.tried + over_http.tried,
                  via_test_client=tally.tried, via_http=over_http.tried,
                  accepted=tally.accepted + over_http.accepted, rejected=tally.rejected + over_http.rejected,
                  events_processed=tally.events_processed + over_http.events_processed,
                  server_errors=0, rejected_that_changed_db=0)
    assert tally.tried >= 10_000
