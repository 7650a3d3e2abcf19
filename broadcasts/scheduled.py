"""Background delivery of a broadcast just created, and the report card pushed to its sender once it
is out. Its own module so that the service (delivery) and the card (a chat view) need not import each
other."""
from __future__ import annotations

import logging
import threading
import time as time_module

from bot.outbox import enqueue_push
from broadcasts.cards import report_card
from broadcasts.models import Broadcast
from broadcasts.service import deliver_broadcast, delivery_report

log = logging.getLogger(__name__)


def deliver_soon(sender, *, broadcast_id: int, delay: float = 0.3, notify: bool = True) -> None:
    """From inside a transaction that has not committed yet: deliver shortly after, in the
    background (the regular outbox pump picks up anything this misses), then tell the staff
    member who sent it how it went (the delivery report, once)."""
    def run():
        try:
            for _ in range(50):  # wait for the creating transaction to commit (or give up: it rolled back)
                with sender.database.session() as session:
                    if session.get(Broadcast, broadcast_id) is not None:
                        break
                time_module.sleep(0.1)
            else:
                return
            deliver_broadcast(sender, broadcast_id=broadcast_id)
            for _ in range(100):  # chunks the regular pump took, or retries, finish soon after
                if not notify or push_report(sender, broadcast_id=broadcast_id):
                    return
                time_module.sleep(0.2)
                deliver_broadcast(sender, broadcast_id=broadcast_id)
        except Exception:  # the pump will retry; never crash a worker thread
            log.exception("broadcast delivery failed")
    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.start()


def push_report(sender, *, broadcast_id: int) -> bool:
    """Push the delivery report card to the LINE user who created the broadcast, once it has no
    pending chunks (idempotency key ``broadcast-report:<id>``). False: chunks still pending."""
    with sender.database.write_session() as session:
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None or not (broadcast.created_by or "").startswith("U"):
            return True  # nobody to tell (dashboard token, API)
        if delivery_report(session, broadcast_id=broadcast_id).pending:
            return False
        rows = enqueue_push(session, to=broadcast.created_by, replies=[report_card(session, broadcast_id)],
                            idempotency_key=f"broadcast-report:{broadcast_id}", origin=f"broadcast-report:{broadcast_id}")
        row_ids = [row.id for row in rows]
    sender.deliver(row_ids)
    return True  # pushed now, or earlier (the key made this a no-op)
