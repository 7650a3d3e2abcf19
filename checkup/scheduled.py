"""The check-up on the scheduler (scheduler.service.DIGEST_HANDLERS ``checkup_ask``): milestones in
programs.yaml with ``stage: baseline`` (at the start: owners of signed companies that never took
it) or ``stage: followup`` with ``since`` (near the end: those without a result since then) ask
each such owner once, with a 「開始數位健檢」 button. Runs inside the tick's claiming transaction,
so each ask goes out once whatever the number of ticks or schedulers; quiet hours are the tick's."""
from __future__ import annotations

from bot.messages import Choice, Text, encode_postback
from bot.texts import t
from checkup import service
from checkup.settings import checkup
from scheduler import audiences
from scheduler.settings import parse_programme_datetime


def checkup_ask(materialiser, row, schedule, milestone) -> None:
    session = materialiser.session
    followup = milestone.options.get("stage") == "followup"
    since = parse_programme_datetime(milestone.options["since"]) if followup and milestone.options.get("since") else None
    pending = service.pending_owners(session, program_id=schedule.program_id, since=since)
    reachable = audiences.reachable(session, [owner for _, _, owner in pending])
    # Near the end, a company that never took it is invited as at the start (there is nothing to compare).
    taken = service.progress(session, company_ids=list({cid for cid, _, _ in pending})) if followup else {}
    asked = 0
    for company_id, name, owner in pending:
        if owner not in reachable:
            continue
        text = t("checkup.ask_push_followup" if company_id in taken else "checkup.ask_push", company=name or "",
                 title=milestone.title, count=len(checkup().questions))
        button = Choice(t("checkup.ask_button"), data=encode_postback(c="checkup", arg=str(company_id)),
                        display=t("checkup.ask_button"))
        materialiser.pushes.append((owner, [Text(text, (button,))], f"rem:{row.key}:{owner}:{company_id}"))
        asked += 1
    materialiser.done(row, f"{asked} owners asked")
