"""Checkpoint digests (scheduler.service.DIGEST_HANDLERS "checkpoint_digest"): two weeks and three
days before each checkpoint (programs.yaml milestones ``kind: checkpoint_digest``), every advisor
gets their companies that still miss something, each with what it misses; staff get the KPIs
behind what that checkpoint needs and what is not tracked yet. Sent once, inside the tick's claim."""
from __future__ import annotations

from collections import defaultdict

from sqlmodel import select

from bot.messages import Text
from bot.outbox import enqueue_multicast
from bot.texts import t
from bot.timeutil import format_roc_datetime, to_taipei
from checkpoints import service
from checkpoints.settings import from_data
from companies.models import Company
from scheduler import audiences

MAX_LINES = 30


def _number(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def checkpoint_digest(materialiser, row, schedule, milestone) -> None:
    session, now = materialiser.session, materialiser.now
    program = from_data(schedule.program_id, schedule.raw)
    checkpoint = program.checkpoint(int(milestone.options.get("checkpoint", 0))) or program.next_checkpoint(milestone.at)
    if checkpoint is None:
        return materialiser.skip(row, "checkpoint removed")
    lines = service.kpi_lines(session, program=program, as_of=now)
    for line in lines:  # measured against this checkpoint, whichever comes next
        line.due, line.due_by = line.kpi.due_at(checkpoint), checkpoint
    rows = service.company_rows(session, program=program, as_of=now, lines=lines)
    labels = {line.kpi.id: line.kpi.short_label for line in lines}
    values = dict(title=milestone.title, when=format_roc_datetime(checkpoint.at),
                  days=(checkpoint.day - to_taipei(now).date()).days)
    advisors = dict(session.exec(select(Company.id, Company.advisor_line_user_id).where(
        Company.id.in_([r["id"] for r in rows] or [-1]))).all())
    by_advisor: dict[str, list[dict]] = defaultdict(list)
    for company_row in rows:
        advisor = advisors.get(company_row["id"])
        if advisor:
            by_advisor[advisor].append(company_row)
    reachable = audiences.reachable(session, by_advisor.keys())
    for advisor, items in sorted(by_advisor.items()):
        if advisor not in reachable:
            continue
        behind = [item for item in items if item["missing"]]
        if not behind:
            text = t("checkpoints.digest_all_done", **values)
        else:
            text_lines = [t("checkpoints.digest_line", company=item["name"],
                            missing="、".join(labels[k] for k in item["missing"])) for item in behind[:MAX_LINES]]
            if len(behind) > MAX_LINES:
                text_lines.append(t("checkpoints.digest_more", count=len(behind) - MAX_LINES))
            text = t("checkpoints.digest_advisor", lines="\n".join(text_lines), **values)
        materialiser.pushes.append((advisor, [Text(text)], f"rem:{row.key}:{advisor}"))
    staff = audiences.resolve(session, names=["staff"], program_id=schedule.program_id)
    if staff:
        late = [line for line in lines if line.status == "behind"]
        untracked = [line for line in lines if line.status == "not_tracked"]
        behind_text = t("checkpoints.digest_staff_behind", lines="\n".join(
            t("checkpoints.digest_staff_line", label=line.kpi.label, done=_number(line.result.done),
              due=_number(line.due), unit=line.kpi.unit) for line in late)) if late else t("checkpoints.digest_staff_none")
        untracked_text = t("checkpoints.digest_staff_untracked", untracked=len(untracked), untracked_labels="、".join(
            line.kpi.short_label for line in untracked)) if untracked else ""
        text = t("checkpoints.digest_staff", share=f"{checkpoint.share:.0%}", behind=behind_text,
                 ok=sum(1 for line in lines if line.status in ("done", "on_track")), untracked=untracked_text,
                 companies_behind=sum(1 for r in rows if r["missing"]), companies=len(rows), **values)
        materialiser.outbox_ids += [r.id for r in enqueue_multicast(
            session, to=staff, replies=[Text(text)], idempotency_key=f"rem:{row.key}:staff",
            origin=f"reminder:{row.id}", not_before=now)]
    materialiser.done(row, f"{len(by_advisor)} advisors, {len(staff)} staff")
