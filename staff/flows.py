"""Team administration in chat: 「/邀請」 (FlowId.INVITE), 「綁定 CODE」, 「/登入」, 「/指派」."""
from __future__ import annotations

import functools

from sqlmodel import select

from bot.messages import Card, Choice, Text, encode_postback
from bot.outbox import enqueue_push
from bot.texts import t
from campaign import service as campaign_service
from companies.models import Company
from dialogs import framework as fw
from dialogs import registry
from staff import service
from visits.parse import CompanyRef, match_companies

ROLE_WORDS = {"advisor": ("顧問", "advisor", "輔導顧問", "專案顧問"),
              "staff": ("計畫人員", "人員", "職員", "工作人員", "staff", "管理員", "承辦")}


def role_from_text(text: str) -> tuple[str | None, str]:
    """('advisor'|'staff'|None, the rest of the text as the invitee's name)."""
    text = text.strip()
    for role, words in ROLE_WORDS.items():
        for word in sorted(words, key=len, reverse=True):
            if text.lower().startswith(word.lower()):
                return role, text[len(word):].strip()
    return None, text


def _ask_role(ctx):
    return [Text(t("staff.ask_role"), (ctx.choice(t("staff.role_advisor"), "advisor"),
                                       ctx.choice(t("staff.role_staff"), "staff"), Choice(t("core.nav_cancel"))))]


def _parse_role(ctx, user_input) -> str:
    answer = user_input.answer_text.strip()
    if answer in service.ROLES:
        return answer
    role, _ = role_from_text(answer)
    if role is None:
        raise fw.Invalid(t("staff.role_invalid"))
    return role


def _ask_name(ctx):
    return [Text(t("staff.ask_name"), (ctx.choice(t("staff.name_skip"), ""), Choice(t("core.nav_back")),
                                       Choice(t("core.nav_cancel"))))]


def _parse_name(ctx, user_input) -> str:
    answer = user_input.answer_text.strip()
    return "" if answer == t("staff.name_skip") else answer[:60]


def _invite_replies(request, role: str, name: str) -> list:
    code, _ = service.create_invite(request.session, actor=request.ctx.user_id, role=role, name=name or None,
                                    now=request.ctx.now)
    role_label = t(f"staff.role_{role}")
    hours = int(service.INVITE_VALID.total_seconds() // 3600)
    return [Text(t("staff.invite_created", role=role_label, name=name or t("staff.invitee_default"))),
            Text(t("staff.invite_forward", role=role_label, code=code, hours=hours))]


def _finish_invite(request) -> fw.Turn:
    ctx = request.ctx
    replies = _invite_replies(request, ctx.data["role"], ctx.data.get("name", ""))
    return fw.Turn(ctx.cleared(), replies)


registry.register_flow(fw.Flow(
    id=fw.FlowId.INVITE,
    title=t("staff.invite_title"),
    help=t("staff.invite_help"),
    steps=(fw.Step("role", t("staff.ask_role"), _ask_role, _parse_role,
                   display=lambda ctx, v: t(f"staff.role_{v}")),
           fw.Step("name", t("staff.ask_name"), _ask_name, _parse_name)),
    finish=_finish_invite,
    summary=False,
))


@registry.command("invite", "/邀請", prefix=True, role="staff")
def invite(request) -> fw.Turn:
    role, name = role_from_text(request.argument or "")
    if role is None:
        return fw.Turn(request.ctx, [], start_flow=fw.FlowId.INVITE.value)
    return fw.Turn(request.ctx, _invite_replies(request, role, name))


@registry.command("bind", "綁定", "邀請碼", "/綁定", prefix=True)
def bind(request) -> fw.Turn:
    argument = (request.argument or "").strip().lstrip("：:").strip()
    if not service.looks_like_code(argument):
        if argument and registry.FREE_TEXT_HANDLER is not None:
            return registry.FREE_TEXT_HANDLER(request)  # e.g. 「綁定信用卡要怎麼做」: a question
        return fw.Turn(request.ctx, [Text(t("staff.bind_how"))])
    outcome, role = service.redeem_invite(request.session, line_user_id=request.ctx.user_id, code=argument,
                                          now=request.ctx.now)
    if outcome == "ok":
        if service.display_name(request.session, line_user_id=request.ctx.user_id) is None:
            request.after_commit.append(functools.partial(service.name_from_profile, request.services,
                                                          request.ctx.user_id))
        ctx = request.ctx.evolve(roles=request.ctx.roles | {role})
        return fw.Turn(ctx, [Text(t(f"staff.bind_ok_{role}"))])
    return fw.Turn(request.ctx, [Text(t(f"staff.bind_{outcome}"))])


@registry.command("staff_login", "/登入", "/後台", "/login", role="staff")
def login_link(request) -> fw.Turn:
    url = service.login_url(request.services, request.session, line_user_id=request.ctx.user_id, now=request.ctx.now)
    return fw.Turn(request.ctx, [Card(title=t("staff.login_title"), body=t("staff.login_body"),
                                      buttons=(Choice(t("staff.login_button"), kind="uri", uri=url),))])


# --- 「說明」 for the team -------------------------------------------------------------------

def team_help(request) -> list:
    """Staff and advisors get their commands with one example each (and staff the campaign
    notice while letters are not open or carry the 「範例」 mark)."""
    roles, replies = request.ctx.roles, []
    if "staff" in roles:
        replies.append(Text(t("staff.help_staff"), tuple(Choice(word) for word in ("/登入", "/公告", "/回覆"))))
        notice = campaign_service.staff_notice(request.services.config)
        if notice:
            replies.append(Text(notice))
    if "advisor" in roles:
        replies.append(Text(t("staff.help_advisor"), (Choice("登錄訪視"), Choice("我的進度"))))
    return replies


registry.ROLE_HELP.append(team_help)


# --- assigning companies to advisors --------------------------------------------------------

def find_companies(session, text: str) -> list[Company]:
    """Active companies the text names: 統編, name, or fuzzy name (the advisors' visit-log matcher)."""
    companies = {c.id: c for c in session.exec(select(Company).where(Company.status == "active")
                                               .order_by(Company.id)).all()}
    refs = [CompanyRef(c.id, c.name or "", c.tax_id) for c in companies.values()]
    return [companies[company_id] for company_id in match_companies(text, refs)]


def _company_label(company: Company) -> str:
    return company.name or company.tax_id or f"#{company.id}"


@registry.command("staff_assign", "/指派", "/指派企業", prefix=True, role="staff")
def assign(request) -> fw.Turn:
    session, ctx = request.session, request.ctx
    argument = (request.argument or "").strip()
    if request.input.kind == "postback" and argument.startswith("c"):
        company_part, _, advisor_part = argument[1:].partition(":")
        company = session.get(Company, int(company_part)) if company_part.isdigit() else None
        if company is None:
            return fw.Turn(ctx, [Text(t("staff.assign_not_found", text=company_part))])
        if advisor_part:
            return _assign_to(request, company, advisor_part)
        return _ask_advisor(request, company)
    if not argument:
        return fw.Turn(ctx, [Text(t("staff.assign_how"))])
    matches = find_companies(session, argument)
    if not matches:
        return fw.Turn(ctx, [Text(t("staff.assign_not_found", text=argument[:30]))])
    if len(matches) == 1:
        return _ask_advisor(request, matches[0])
    return fw.Turn(ctx, [Text(t("staff.assign_which_company"), tuple(
        Choice(_company_label(c)[:20], data=encode_postback(c="staff_assign", arg=f"c{c.id}"),
               display=_company_label(c)) for c in matches[:12]))])


def _ask_advisor(request, company: Company) -> fw.Turn:
    advisors = service.people_with_role(request.session, role="advisor")
    if not advisors:
        return fw.Turn(request.ctx, [Text(t("staff.assign_no_advisors"))])
    names = dict(advisors)
    current = names.get(company.advisor_line_user_id) or (service.unnamed(company.advisor_line_user_id)
                                                          if company.advisor_line_user_id else t("staff.assign_none"))
    text = t("staff.assign_which_advisor", company=_company_label(company), current=current)
    shown = advisors[:12]
    if len(advisors) > 12:
        text += "\n" + t("staff.assign_more", shown=12)
    choices = [Choice(name[:20], data=encode_postback(c="staff_assign", arg=f"c{company.id}:{uid}"), display=name)
               for uid, name in shown]
    if company.advisor_line_user_id and len(choices) < 13:
        choices.append(Choice(t("staff.assign_unassign"), data=encode_postback(c="staff_assign", arg=f"c{company.id}:-"),
                              display=t("staff.assign_unassign")))
    return fw.Turn(request.ctx, [Text(text, tuple(choices))])


def _assign_to(request, company: Company, advisor: str) -> fw.Turn:
    from visits.service import assign_company

    session, ctx = request.session, request.ctx
    if advisor == "-":
        assign_company(session, company_id=company.id, advisor=None, actor=ctx.user_id)
        return fw.Turn(ctx, [Text(t("staff.assign_removed", company=_company_label(company)))])
    names = dict(service.people_with_role(session, role="advisor"))
    if advisor not in names:
        return fw.Turn(ctx, [Text(t("staff.assign_no_advisors"))])
    assign_company(session, company_id=company.id, advisor=advisor, actor=ctx.user_id)
    notify_assignment(session, company=company, advisor=advisor)
    return fw.Turn(ctx, [Text(t("staff.assign_done", company=_company_label(company), advisor=names[advisor]))])


def notify_assignment(session, *, company: Company, advisor: str) -> None:
    tax = f"（{company.tax_id}）" if company.tax_id else ""
    enqueue_push(session, to=advisor, replies=[Text(t("staff.assign_notice", company=_company_label(company),
                                                                           tax_id=tax))],
                 idempotency_key=f"assign:{company.id}:{advisor}:{int(company.updated_at.timestamp())}",
                 origin=f"assign:{company.id}")


@registry.intercept_free_text
def staff_command_without_slash(request) -> fw.Turn | None:
    """「回覆」「公告 明天停班」 typed by staff without the 「/」: not a question for the FAQ (which would
    hand it to staff as a ticket), but the command they meant, one tap away."""
    text = request.input.text.strip() if request.input.kind == "text" else ""
    if "staff" not in request.ctx.roles or not text or text.startswith(("/", "／")):
        return None
    found = registry.find_command("/" + text)
    if found is None or found[0].role != "staff":
        return None
    command, argument = found
    label = "/" + text[:len(text) - len(argument)].strip() if argument else "/" + text
    return fw.Turn(request.ctx, [Text(t("staff.add_slash", command=label),
                                      (Choice(label[:20], text=("/" + text)[:300]),))])
