"""前測／後測 in chat: the owner answers the link's 「已完成」/「還沒」 (postbacks bound to the test,
or typed 「已完成前測」); advisors ask 「前後測進度」 for their companies still missing."""
from __future__ import annotations

from assessments import service
from assessments.settings import tests_of
from bot.messages import Choice, Text, encode_postback
from bot.texts import t
from bot.timeutil import format_roc_date, format_roc_datetime
from dialogs import framework as fw
from dialogs import registry


def _test_id(request) -> str | None:
    argument = (request.argument or "").strip()
    if argument:
        return argument
    text = request.input.text if request.input.kind == "text" else ""
    return "posttest" if "後測" in text else ("pretest" if "前測" in text else None)


def _done_button(test_id: str, title: str) -> Choice:
    return Choice(t("assessments.button_done"), data=encode_postback(c="assess_done", arg=test_id),
                  display=t("assessments.done_display", title=title))


def _owner_context(request):
    """(company, its tests) for this owner, or a reply saying why not."""
    companies = service.owner_companies(request.session, line_user_id=request.ctx.user_id)
    if not companies:
        return None, fw.Turn(request.ctx, [Text(t("assessments.no_company"))], show_menu=True)
    company = companies[0]
    return company, tests_of(request.services.config, company.program_id)


@registry.command("assess_done", "已完成前測", "前測已完成", "前測填好了", "前測完成", "已完成後測", "後測已完成",
                  "後測填好了", "後測完成")
def done(request) -> fw.Turn:
    ctx = request.ctx
    company, tests = _owner_context(request)
    if company is None:
        return tests
    test = tests.get(_test_id(request) or "")
    if test is None:
        return fw.Turn(ctx, [Text(t("assessments.not_announced"))])
    if ctx.now < test.opens:
        return fw.Turn(ctx, [Text(t("assessments.not_open", title=test.title, opens=format_roc_datetime(test.opens)))])
    if service.record(request.session, company_id=company.id, test=test.id, source="owner", recorded_by=ctx.user_id,
                      completed_at=ctx.now):
        return fw.Turn(ctx, [Text(t("assessments.thanks", title=test.title, company=company.name or ""))])
    found = service.completions(request.session, company_ids=[company.id], test=test.id)[(company.id, test.id)]
    return fw.Turn(ctx, [Text(t("assessments.already", title=test.title,
                                date=format_roc_date(found.completed_at)))])


@registry.command("assess_later", "前測還沒填", "後測還沒填", "前測還沒", "後測還沒")
def later(request) -> fw.Turn:
    ctx = request.ctx
    company, tests = _owner_context(request)
    if company is None:
        return tests
    test = tests.get(_test_id(request) or "")
    if test is None:
        return fw.Turn(ctx, [Text(t("assessments.not_announced"))])
    if service.completions(request.session, company_ids=[company.id], test=test.id):
        return fw.Turn(ctx, [Text(t("assessments.later_but_done", title=test.title))])
    if ctx.now >= test.due:
        return fw.Turn(ctx, [Text(t("assessments.past_due", title=test.title, url=test.url),
                                  (_done_button(test.id, test.title),))])
    return fw.Turn(ctx, [Text(t("assessments.later", title=test.title, due=format_roc_datetime(test.due), url=test.url),
                              (_done_button(test.id, test.title),))])


@registry.command("assess_progress", "前後測進度", "前測進度", "後測進度", role="advisor")
def progress(request) -> fw.Turn:
    from visits.service import advisor_companies

    ctx, session = request.ctx, request.session
    companies = [c for c in advisor_companies(session, advisor=ctx.user_id) if c.letter_status == "signed"]
    if not companies:
        return fw.Turn(ctx, [Text(t("assessments.progress_none"))])
    tests = tests_of(request.services.config, companies[0].program_id)
    started = [test for test in tests.values() if test.opens <= ctx.now]
    if not started:
        return fw.Turn(ctx, [Text(t("assessments.progress_not_started"))])
    done_rows = service.completions(session, company_ids=[c.id for c in companies])
    lines = []
    for test in started:
        missing = [c.name or c.tax_id or f"#{c.id}" for c in companies if (c.id, test.id) not in done_rows]
        lines.append(t("assessments.progress_line", title=test.title, done=len(companies) - len(missing),
                       all=len(companies), due=format_roc_datetime(test.due)))
        lines += [t("assessments.digest_line", company=name) for name in missing[:20]]
    return fw.Turn(ctx, [Text("\n".join(lines))])
