"""Staff in chat: 「/查核點」 shows the checkpoint KPIs as they stand (what the digest says two weeks
before, on demand) and 「/佐證資料」 the evidence pack, each with a one-time link to the dashboard
page it comes from (the checkpoints page, or the pack's download). Typed without the 「/」 they
are offered as a button (staff.flows.staff_command_without_slash), not sent to the FAQ, which
answered with the programme document's checkpoint dates instead of the unit's figures.
"""
from __future__ import annotations

import re

from bot.messages import Card, Choice, Text
from bot.texts import t
from bot.timeutil import format_roc_datetime, to_taipei
from checkpoints import service
from checkpoints.settings import Programme, programme
from dialogs import framework as fw
from dialogs import registry
from dialogs.parsing import parse_count
from staff.service import LOGIN_VALID, login_url

MAX_COMPANIES = 8  # the phone shows a few; the page has all


def _number(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _kpi_line(line: service.KpiLine) -> str:
    if line.status == "not_tracked":
        return t("checkpoints.status_line_untracked", label=line.kpi.short_label)
    values = dict(label=line.kpi.short_label, done=_number(line.result.done), target=_number(line.kpi.target),
                  due=_number(line.due), missing=_number(line.missing), unit=line.kpi.unit)
    return t(f"checkpoints.status_line_{line.status}", **values)


def status_text(session, *, program: Programme, now) -> str:
    """The KPIs against the next checkpoint, and the shops still missing something (most first)."""
    lines = service.kpi_lines(session, program=program, as_of=now)
    rows = service.company_rows(session, program=program, as_of=now, lines=lines)
    upcoming = program.next_checkpoint(now)
    head = (t("checkpoints.status_next", number=upcoming.number, when=format_roc_datetime(upcoming.at),
              days=(upcoming.day - to_taipei(now).date()).days, share=f"{upcoming.share:.0%}")
            if upcoming else t("checkpoints.status_all_passed"))
    labels = {line.kpi.id: line.kpi.short_label for line in lines}
    behind = [row for row in rows if row["missing"]]
    parts = [t("checkpoints.status_title", program=program.short_name), head, *map(_kpi_line, lines)]
    if behind:
        parts.append(t("checkpoints.status_companies", behind=len(behind), total=len(rows)))
        parts += [t("checkpoints.status_company", company=row["name"],
                    advisor=row["advisor"] or t("checkpoints.status_no_advisor"),
                    missing="、".join(labels[k] for k in row["missing"])) for row in behind[:MAX_COMPANIES]]
        if len(behind) > MAX_COMPANIES:
            parts.append(t("checkpoints.digest_more", count=len(behind) - MAX_COMPANIES))
    elif rows:
        parts.append(t("checkpoints.status_companies_done", total=len(rows)))
    return "\n".join(parts)


def _pack_checkpoint(program: Programme, argument: str, now):
    """The checkpoint whose pack is asked for: the number typed, else the next one (the last once
    all have passed)."""
    number = parse_count(re.sub(r"\d{2,3}年", "", argument)) if argument.strip() else None  # 「112年第1次」「第一次」
    if number is not None:
        return program.checkpoint(number)
    return program.next_checkpoint(now) or (program.checkpoints[-1] if program.checkpoints else None)


def _page_button(request, label: str, page: str) -> Choice:
    return Choice(label, kind="uri", uri=login_url(request.services, request.session,
                                                    line_user_id=request.ctx.user_id, next_page=page,
                                                    now=request.ctx.now))


def _link_minutes() -> int:
    """How long the dashboard button stays valid, as the staff room sets it."""
    return int(LOGIN_VALID.total_seconds() // 60)


@registry.command("checkpoint_status", "/查核點", "/查核點進度", "/查核進度", "/kpi", "/績效", "/績效指標", "/進度",
                  "/整體進度", role="staff")
def checkpoint_status(request) -> fw.Turn:
    program = programme(request.services.config)
    text = status_text(request.session, program=program, now=request.ctx.now)
    return fw.Turn(request.ctx, [Card(title=t("checkpoints.status_card_title"), body=text,
                                      note=t("checkpoints.status_note", minutes=_link_minutes()),
                                      buttons=(_page_button(request, t("checkpoints.status_page_button"),
                                                            "/staff/checkpoints"),),
                                      quick_replies=(Choice(t("checkpoints.evidence_command")),))])


@registry.command("evidence_pack", "/佐證資料", "/佐證", "/匯出佐證資料", "/下載佐證資料", "/佐證資料匯出", "/匯出佐證",
                  prefix=True, role="staff")
def evidence_pack(request) -> fw.Turn:
    program = programme(request.services.config)
    checkpoint = _pack_checkpoint(program, request.argument or "", request.ctx.now)
    if checkpoint is None:
        numbers = "、".join(str(c.number) for c in program.checkpoints)
        return fw.Turn(request.ctx, [Text(t("checkpoints.evidence_unknown", numbers=numbers),
                                          tuple(Choice(t("checkpoints.evidence_command_n", number=c.number)) for c in program.checkpoints[:12]))])
    as_of = min(request.ctx.now, checkpoint.at)
    page = f"/staff/checkpoints/{checkpoint.number}/evidence.zip"
    return fw.Turn(request.ctx, [Card(
        title=t("checkpoints.evidence_title", number=checkpoint.number),
        body=t("checkpoints.evidence_body", number=checkpoint.number, when=format_roc_datetime(checkpoint.at),
               as_of=format_roc_datetime(as_of)),
        note=t("checkpoints.evidence_note", minutes=_link_minutes()),
        buttons=(_page_button(request, t("checkpoints.evidence_button", number=checkpoint.number), page),
                 _page_button(request, t("checkpoints.status_page_button"), "/staff/checkpoints")),
        quick_replies=(Choice(t("checkpoints.status_command")),))])
