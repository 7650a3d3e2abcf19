"""The members' side of joining a company, in chat.

When someone asks to join a company (the eligibility check found its 統編 registered by another
account), every member gets a card with 「同意加入」/「婉拒」; the buttons carry the request id
(postback ``c=company_join_decide``). Only a current member's tap decides; a tap on a request
that was decided already (a second member, an old card, a redelivery) says so and changes
nothing. The requester is told the outcome by push (companies.service.decide).
"""
from __future__ import annotations

from bot.messages import Text
from bot.texts import t
from companies import service
from companies.models import Company
from dialogs import framework as fw
from dialogs.registry import command


def _parse(argument: str) -> tuple[int, bool] | None:
    request_id, _, action = (argument or "").partition(":")
    if not request_id.isdigit() or action not in ("approve", "decline") or not 0 < int(request_id) < 2**31:
        return None
    return int(request_id), action == "approve"


@command(service.DECIDE_COMMAND)  # no phrase: reached only through the members' buttons
def decide_join(request) -> fw.Turn:
    ctx, session = request.ctx, request.session
    parsed = _parse(request.argument)
    if parsed is None:
        return fw.Turn(ctx, [Text(t("core.button_expired_no_flow"))], show_menu=not ctx.flow)
    request_id, approve = parsed
    try:
        join = service.decide(session, request_id=request_id, approve=approve, actor=ctx.user_id, via="chat",
                              member=ctx.user_id, now=ctx.now)
    except service.JoinDecisionError as error:
        if error.reason == "decided":
            key = "companies.already_approved" if error.join.status == service.APPROVED else "companies.already_declined"
            return fw.Turn(ctx, [Text(t(key))], show_menu=not ctx.flow)
        # Not found, or not a member: the same words, so a stranger learns nothing from the tap.
        return fw.Turn(ctx, [Text(t("core.button_expired_no_flow"))], show_menu=not ctx.flow)
    company = session.get(Company, join.company_id)
    name = (company.name if company else None) or t("companies.this_company")
    who = service.requester_name(session, join.line_user_id)
    key = "companies.approved_member" if approve else "companies.declined_member"
    return fw.Turn(ctx, [Text(t(key, name=who, company=name))], show_menu=not ctx.flow)
