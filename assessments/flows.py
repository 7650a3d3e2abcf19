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


# 「填好了」 typed under the link instead of tapping 「已完成」: with one test open and not recorded for
# the owner's shop, it can only mean that test (the FAQ explained what a 前測 is, and nothing was kept).
_DONE_WORDS = frozenset({"已完成", "完成了", "完成", "已經完成", "已經完成了", "填好了", "填完了", "填好", "填完",
                         "已填", "已填好", "已填完", "已經填了", "已經填好了", "已經填完了", "寫好了", "寫完了",
                         "做好了", "做完了", "我填好了", "我填完了"})


@registry.intercept_free_text
def done_in_words(request) -> fw.Turn | None:
    if request.input.kind != "text" or request.ctx.flow:
        return None
    if fw.squash(request.input.text).rstrip("喔哦唷啦囉!！") not in _DONE_WORDS:
        return None
    companies = service.owner_companies(request.session, line_user_id=request.ctx.user_id)
    if not companies or companies[0].letter_status != "signed":
        return None
    company, now = companies[0], request.ctx.now
    opened = [test for test in tests_of(request.services.config, company.program_id).values() if test.opens <= now]
    recorded = service.completions(request.session, company_ids=[company.id])
    pending = [test for test in opened if (company.id, test.id) not in recorded]
    if not pending:
        return None
    request.argument = max(pending, key=lambda test: test.opens).id  # the latest link sent
    return done(request)


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


@registry.command("assess_progress", "前後測進度", "前測進度", "後測進度", role="advisor", names_shop=True)
def progress(request) -> fw.Turn:
    from visits.company_step import shops_named
    from visits.service import advisor_companies

    ctx, session = request.ctx, request.session
    companies, notes = shops_named(request, [c for c in advisor_companies(session, advisor=ctx.user_id)
                                             if c.letter_status == "signed"])
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
    return fw.Turn(ctx, [*notes, Text("\n".join(lines))])
