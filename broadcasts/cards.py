"""The delivery report as a card: who it went to, how many were sent, failed or skipped, and when
(shown by 「/公告報告」 and pushed to the sender when a broadcast finishes)."""
from __future__ import annotations

from bot.messages import Card, Choice, encode_postback
from bot.texts import t
from broadcasts import service
from broadcasts.models import Broadcast


def report_buttons(broadcast_id: int, *, scheduled: bool) -> tuple[Choice, ...]:
    buttons = [Choice(t("broadcasts.report_button"), data=encode_postback(c="broadcast_report", arg=broadcast_id),
                      display=t("broadcasts.report_button"))]
    if scheduled:
        buttons.append(Choice(t("broadcasts.cancel_button"),
                              data=encode_postback(c="broadcast_cancel", arg=broadcast_id),
                              display=t("broadcasts.cancel_button")))
    return tuple(buttons)


def report_card(session, broadcast_id: int, now=None) -> Card:
    report = service.delivery_report(session, broadcast_id=broadcast_id, now=now)
    broadcast = session.get(Broadcast, broadcast_id)
    rows = [(t("broadcasts.report_audience"), broadcast.audience_label),
            (t("broadcasts.report_recipients"), str(report.recipients)),
            (t("broadcasts.report_sent"), str(report.sent)),
            (t("broadcasts.report_failed"), str(report.failed)),
            (t("broadcasts.report_skipped"), str(report.skipped))]
    if report.pending:
        rows.append((t("broadcasts.report_pending"), str(report.pending)))
    if report.cancelled:
        rows.append((t("broadcasts.report_cancelled"), str(report.cancelled)))
    rows += [(t("broadcasts.report_when"), service.when_text(report.last_sent_at or report.send_at)),
             (t("broadcasts.report_state"), t(f"broadcasts.state_{report.state}"))]
    return Card(title=f"{t('broadcasts.report_title')} #{broadcast_id}", rows=tuple(rows),
                buttons=report_buttons(broadcast_id, scheduled=report.state == "scheduled"))
