"""Adoption and normal use in chat.

* Advisors (their companies) and staff (any company) record that a company started using the
  campaign's tools in one message — 「導入 好味道小吃 LINE官方帳號 7/20」 (company by 統編, name or
  fuzzy name; tools by name or alias from programs.yaml; date as 7/20, 112/7/20 or 今天) — or with
  the 「記錄導入」 button on a visit card (FlowId.ADOPTION); what is missing or wrong is asked again.
  The owner gets a card: 「是，已開始使用」 / 「還沒」 (postback ``adoption_answer``); that answer is
  the evidence and sets Company.tool_adopted_at.
* Owners report the month's usage figure or a screenshot (FlowId.USAGE_REPORT), from the monthly
  ask's 「回報使用量」 button or by typing 「回報使用量」.
"""
from __future__ import annotations

import re
from datetime import date

from adoption import parse as ap
from adoption import service
from bot.messages import Card, Choice, Text
from bot.texts import t
from bot.timeutil import format_roc_date, to_taipei
from checkpoints.settings import Tool, programme, programmes
from dialogs import framework as fw
from dialogs import registry
from dialogs.parsing import parse_amount, parse_count
from visits import parse as vp
from visits.company_step import MAX_CHOICES, company_refs, company_step

def _today(ctx: fw.Context) -> date:
    return to_taipei(ctx.now).date()


# --- what a conversation keeps (JSON-able, so its steps stay pure) ---------------------------

def _catalog(config, companies) -> dict:
    """Per programme of these companies: its tools and period."""
    found = programmes(config)
    catalog = {}
    for program_id in {c.program_id for c in companies}:
        program = found.get(program_id)
        if program is None:
            continue
        catalog[program_id] = {
            "tools": [[tool.id, tool.name, list(tool.aliases)] for tool in program.tools],
            "period": [d.isoformat() for d in program.period] if program.period else None}
    return catalog


def _company_records(companies) -> list[dict]:
    return [{"id": c.id, "name": service.company_name(c), "tax_id": c.tax_id, "program": c.program_id}
            for c in companies]


def _company(ctx: fw.Context, company_id=None) -> dict | None:
    company_id = ctx.data.get("company") if company_id is None else company_id
    return next((c for c in ctx.data.get("_companies", []) if c["id"] == company_id), None)


def _programme_data(ctx: fw.Context) -> dict:
    company = _company(ctx)
    catalog = ctx.data.get("_catalog", {})
    if company is not None:
        return catalog.get(company["program"], {})
    # No company chosen yet: the programme with tools (a 數位群聚 company has none).
    return next((entry for entry in catalog.values() if entry.get("tools")), {})


def _tools(ctx: fw.Context) -> list[Tool]:
    return [Tool(tool_id, name, tuple(aliases)) for tool_id, name, aliases in _programme_data(ctx).get("tools", [])]


def _period(ctx: fw.Context) -> tuple[date, date] | None:
    period = _programme_data(ctx).get("period")
    return (date.fromisoformat(period[0]), date.fromisoformat(period[1])) if period else None


def _tool_names(ctx: fw.Context, tool_ids) -> str:
    names = {tool.id: tool.name for tool in _tools(ctx)}
    return "、".join(names.get(tool_id, tool_id) for tool_id in tool_ids or ())


# --- steps -------------------------------------------------------------------------------------

def _not_about_another_shop(ctx: fw.Context, user_input: fw.UserInput) -> None:
    """Raise when the answer names another of the advisor's shops (「昨天幫好味道小吃裝好POS」 typed
    while 阿明麵店's record asks for the day): its 「昨天」 would be recorded for 阿明麵店, and the
    owner of 阿明麵店 asked to confirm a tool they never started."""
    chosen = ctx.data.get("company")
    if user_input.kind != "text" or chosen is None:
        return
    named = vp.parse_visit_message(user_input.text, today=_today(ctx), companies=company_refs(ctx)).company_ids
    if named and chosen not in named:
        raise fw.Invalid(t("adoption.another_shop", named=_company_label(ctx, named[0]),
                           company=_company_label(ctx, chosen)), looks_like_question=False)


def _company_label(ctx: fw.Context, company_id) -> str:
    company = _company(ctx, company_id)
    return company["name"] if company else "—"


def _ask_tools(ctx: fw.Context):
    return [Text(t("adoption.ask_tools"), (*(ctx.choice(tool.name, tool.id) for tool in _tools(ctx)[:MAX_CHOICES]),
                                           *fw.nav_choices(ctx)))]


def _parse_tools(ctx: fw.Context, user_input: fw.UserInput) -> list[str]:
    _not_about_another_shop(ctx, user_input)
    tools = _tools(ctx)
    answer = user_input.answer_text.strip()
    if user_input.kind == "postback" and any(tool.id == answer for tool in tools):
        return [answer]
    found, rest = ap.find_tools(answer, tools)
    if found:
        return found
    names = "、".join(tool.name for tool in tools)
    raise fw.Invalid(t("adoption.tools_unknown", text=answer[:20], tools=names))


def _ask_day(ctx: fw.Context):
    today = _today(ctx)
    period = _period(ctx)
    latest = min(today, period[1]) if period else today
    earliest = period[0].isoformat() if period else None
    return [Text(t("adoption.ask_day"), (
        ctx.choice(t("adoption.day_today"), "今天"), ctx.choice(t("adoption.day_yesterday"), "昨天"),
        ctx.picker(t("adoption.day_pick"), "date", initial=latest.isoformat(), min=earliest, max=latest.isoformat()),
        *fw.nav_choices(ctx)))]


def check_day(ctx: fw.Context, day: date) -> str | None:
    """The zh-TW reason a start date cannot be right, or None."""
    if day > _today(ctx):
        return t("adoption.day_future", day=format_roc_date(day))
    period = _period(ctx)
    if period and not period[0] <= day <= period[1]:
        return t("adoption.day_outside", day=format_roc_date(day), start=format_roc_date(period[0]),
                 end=format_roc_date(period[1]))
    return None


def _parse_day(ctx: fw.Context, user_input: fw.UserInput) -> str:
    _not_about_another_shop(ctx, user_input)
    day = ap.resolve_day(user_input.answer_text, today=_today(ctx), period=_period(ctx))
    if day is None:
        raise fw.Invalid(t("adoption.day_invalid"))
    problem = check_day(ctx, day)
    if problem:
        raise fw.Invalid(problem, looks_like_question=False)
    return day.isoformat()


STEPS = (
    company_step("adoption", t("adoption.label_company")),
    fw.Step("tools", t("adoption.label_tools"), _ask_tools, _parse_tools, display=lambda ctx, v: _tool_names(ctx, v)),
    fw.Step("day", t("adoption.label_day"), _ask_day, _parse_day,
            display=lambda ctx, v: format_roc_date(date.fromisoformat(v)) if v else "—"),
)


def _finish(request) -> fw.Turn:
    ctx = request.ctx
    done = ctx.cleared().forget("adoption_prefill")
    company = _company(ctx)
    program = programme(request.services.config, company["program"])
    try:
        recorded = service.record_adoption(
            request.session, program=program, company_id=company["id"], tool_ids=list(ctx.data["tools"]),
            started_on=date.fromisoformat(ctx.data["day"]), actor=ctx.user_id, roles=ctx.roles,
            via=ctx.data.get("_via", "chat"), now=ctx.now)
    except service.AdoptionError as error:
        return fw.Turn(done, [Text(error_text(error))], show_menu=True)
    rows = recorded.adoptions
    card = Card(title=t("adoption.recorded_title"),
                rows=((t("adoption.label_company"), service.company_name(recorded.company)),
                      (t("adoption.label_tools"), "、".join(program.tool_name(a.tool_id) for a in rows)),
                      (t("adoption.label_started"), format_roc_date(rows[0].started_on))),
                body=t("adoption.recorded_note") if recorded.owners else t("adoption.recorded_no_owner"))
    replies = [card]
    if recorded.duplicates:
        replies.append(Text(t("adoption.duplicate_some", lines=service.duplicate_lines(program, recorded.duplicates))))
    return fw.Turn(done, replies, show_menu=True)


def error_text(error: service.AdoptionError) -> str:
    info = error.info
    return {
        "duplicate": lambda: t("adoption.duplicate", company=info.get("company", ""), lines=info.get("lines", "")),
        "not_yours": lambda: t("adoption.not_yours_record", company=info.get("company", "")),
        "outside_period": lambda: t("adoption.day_outside", **info),
        "future": lambda: t("adoption.day_future", **info),
    }.get(error.code, lambda: t("adoption.not_found"))()


ADOPTION_FLOW = registry.register_flow(fw.Flow(
    id=fw.FlowId.ADOPTION,
    title=t("adoption.flow_title"),
    help=t("adoption.flow_help"),
    steps=STEPS,
    finish=_finish,
    summary=False,
    settled=lambda ctx: fw.pending_step(ADOPTION_FLOW, ctx) is None,
    prefill=lambda ctx: dict(ctx.memory.get("adoption_prefill") or {}),
    slow_finish=True,
))


# --- entry points ------------------------------------------------------------------------------

def _recorder(ctx: fw.Context) -> bool:
    return bool(service.RECORDER_ROLES & ctx.roles)


def _start(request, companies, answers: dict, lead: list | None = None) -> fw.Turn:
    if not companies:
        return fw.Turn(request.ctx, [Text(t("adoption.no_companies"))], show_menu=True)
    prefill = {**answers, "_companies": _company_records(companies),
               "_catalog": _catalog(request.services.config, companies)}
    ctx = request.ctx.remember(adoption_prefill=prefill)
    return fw.Turn(ctx, list(lead or []), start_flow=fw.FlowId.ADOPTION.value)


@registry.command("adoption_record", *ap.PREFIXES, prefix=True, interrupts=_recorder)
def record_from_message(request) -> fw.Turn:
    """「導入 …」: advisors and staff record; from anyone else it is a question (or a polite no)."""
    ctx = request.ctx
    text = request.input.text if request.input.kind == "text" else request.argument
    question = fw.has_question_marker(text)
    if not _recorder(ctx):
        named, _ = ap.find_tools(ap.strip_prefix(text), _every_tool(request.services.config))
        if named and vp.DATE_SPAN.search(text) and not question:
            return fw.Turn(ctx, [Text(t("adoption.owner_cannot_record"))], show_menu=True)
        return _faq(request)
    companies, probe, parsed = _parse_record(request, text)
    if question and not parsed.company_ids:
        return _faq(request)  # 「導入要多久？」
    return _record(request, companies, probe, parsed)


def _every_tool(config) -> list:
    """Every programme's tools: who is not recording for a shop names a tool of any of them."""
    return [tool for program in programmes(config).values() for tool in program.tools]


def _parse_record(request, text: str):
    """(the companies the person may record for, a context holding them, the message parsed)."""
    ctx, config = request.ctx, request.services.config
    companies = service.recordable_companies(request.session, actor=ctx.user_id, roles=ctx.roles)
    probe = fw.Context(user_id=ctx.user_id, now=ctx.now, data={"_catalog": _catalog(config, companies),
                                                               "_companies": _company_records(companies)})
    parsed = ap.parse_adoption_message(text, today=_today(ctx), companies=company_refs(probe), tools=_tools(probe),
                                       period=_period(probe))
    return companies, probe, parsed


def _record(request, companies, probe: fw.Context, parsed) -> fw.Turn:
    """Start the record with what the message said; the rest is asked."""
    ctx = request.ctx
    answers, lead = {}, []
    if len(parsed.company_ids) == 1 and not parsed.guessed:
        answers["company"] = parsed.company_ids[0]
    elif parsed.company_ids:
        answers["_candidates"] = parsed.company_ids
    elif parsed.company_text:
        # Staff record for every company: for them an unknown one is just unknown (an advisor is
        # told it is not theirs, which reveals nothing about other advisors' companies).
        everyone = "staff" in ctx.roles
        if vp.TAX_ID.fullmatch(parsed.company_text):
            key = "adoption.tax_id_unknown" if everyone else "adoption.company_not_yours"
            lead.append(Text(t(key, tax_id=parsed.company_text)))
        else:
            key = "adoption.company_unknown" if everyone else "adoption.company_not_found"
            lead.append(Text(t(key, text=parsed.company_text[:20])))
    scoped = probe.evolve(data={**probe.data, **answers})
    if parsed.tool_ids:
        answers["tools"] = parsed.tool_ids
    elif parsed.other_text and "company" in answers:
        names = "、".join(tool.name for tool in _tools(scoped))
        lead.append(Text(t("adoption.tools_unknown", text=parsed.other_text[:20], tools=names)))
    if parsed.day_text and "company" in answers:
        # Read again inside the chosen company's programme (7/20 of its year).
        parsed.day = ap.resolve_day(parsed.day_text, today=_today(ctx), period=_period(scoped))
    if parsed.day:
        problem = check_day(scoped, parsed.day)
        if problem:
            lead.append(Text(problem))
        else:
            answers["day"] = parsed.day.isoformat()
    return _start(request, companies, answers, lead)


# How advisors say a shop started using a tool without 「導入」 first (「阿明麵店開始用LINE官方帳號了」).
STARTED_WORDS = ("開始用", "開始使用", "已經在用", "已在用", "在用了", "用起來了", "上線了", "裝好", "安裝好", "設定好",
                 "導入了", "啟用了", "開通了")
# The same words said not yet (「還沒開始用」「尚未真的開始用」): not an adoption to record.
_NOT_STARTED = re.compile(r"(?:還沒|尚未|沒有|未|還不)[^，,。.！!\s]{0,4}?(?:"
                          + "|".join(map(re.escape, STARTED_WORDS)) + ")")


@registry.intercept_free_text
def adoption_in_words(request) -> fw.Turn | None:
    """An advisor's or staff's sentence naming one of their shops, a tool and that it is in use is
    an adoption record, as 「導入 …」 is (it went to the FAQ and became a question for staff). With a
    visit's mode or duration it is a visit (visits.flows), whose card offers 「記錄導入」."""
    text = request.input.text if request.input.kind == "text" else ""
    if not _recorder(request.ctx) or not any(word in text for word in STARTED_WORDS) or _NOT_STARTED.search(text):
        return None
    if fw.has_question_marker(text) or vp.parse_mode(text) or vp.parse_duration(text):
        return None
    if not ap.find_tools(text, _every_tool(request.services.config))[0]:
        return None
    companies, probe, parsed = _parse_record(request, text)
    return _record(request, companies, probe, parsed) if parsed.company_ids else None


def _faq(request) -> fw.Turn:
    if registry.FREE_TEXT_HANDLER is not None and request.input.kind == "text":
        return registry.FREE_TEXT_HANDLER(request)
    return fw.Turn(request.ctx, [Text(t("core.menu_prompt"))], show_menu=True)


@registry.command("adoption_start", "記錄工具導入", "登錄工具導入", role=None, interrupts=_recorder)
def record_guided(request) -> fw.Turn:
    """「記錄工具導入」, or the 「記錄導入」 button on a visit card (postback arg: the company id)."""
    ctx = request.ctx
    if not _recorder(ctx):
        return fw.Turn(ctx, [Text(t("adoption.owner_cannot_record"))], show_menu=True)
    companies = service.recordable_companies(request.session, actor=ctx.user_id, roles=ctx.roles)
    argument = (request.argument or "").strip()
    answers = {}
    if argument.isdigit() and any(c.id == int(argument) for c in companies):
        answers = {"company": int(argument), "_via": "visit"}
    return _start(request, companies, answers)


def visit_card_choice(company_id: int) -> Choice:
    """The 「記錄導入」 quick reply a visit card offers (visits.flows)."""
    from bot.messages import encode_postback

    return Choice(t("adoption.visit_card_button"), data=encode_postback(c="adoption_start", arg=company_id),
                  display=t("adoption.visit_card_button"))


# --- the owner's answer ------------------------------------------------------------------------

def _answer(request, ids: list[int], confirmed: bool) -> fw.Turn:
    ctx = request.ctx
    try:
        answered = service.answer(request.session, program_of=lambda pid: programme(request.services.config, pid),
                                  adoption_ids=ids, user_id=ctx.user_id, confirmed=confirmed, now=ctx.now)
    except service.AdoptionError as error:
        key = {"already_answered": "adoption.already_answered", "not_yours": "adoption.answer_not_yours"}.get(
            error.code, "adoption.nothing_pending")
        return fw.Turn(ctx, [Text(t(key, **({"status": error.info.get("status", "")}
                                           if error.code == "already_answered" else {})))], show_menu=True)
    program = programme(request.services.config, answered.company.program_id)
    tools = "、".join(program.tool_name(a.tool_id) for a in answered.adoptions)
    key = "adoption.answered_yes" if confirmed else "adoption.answered_no"
    return fw.Turn(ctx, [Text(t(key, company=service.company_name(answered.company), tools=tools))], show_menu=True)


@registry.command("adoption_answer", "是，已開始使用", "是,已開始使用", "已開始使用", "已經開始使用", "還沒開始使用",
                  "還沒有開始使用", interrupts=False)
def answer_adoption(request) -> fw.Turn:
    """The card's buttons (arg "12.13:y") or the same words typed (the person's pending ones)."""
    argument = (request.argument or "").strip()
    if request.input.kind == "postback":
        ids_part, _, choice = argument.partition(":")
        ids = [int(part) for part in ids_part.split(".") if part.isdigit()]
        return _answer(request, ids, choice == "y")
    pending = service.pending_for_user(request.session, user_id=request.ctx.user_id)
    if not pending:
        return fw.Turn(request.ctx, [Text(t("adoption.nothing_pending"))], show_menu=True)
    first = [a.id for a in pending if a.company_id == pending[0].company_id and a.started_on == pending[0].started_on]
    return _answer(request, first, not fw.squash(request.input.text).startswith("還沒"))


# The card asks 「已經開始使用了嗎？」; owners answer it as they would a person: 「有在用了」「還沒用」.
# With a card waiting (and only then) those words are the answer; the FAQ explained 常態使用 instead.
_YES_WORDS = frozenset({"有", "有啊", "有喔", "有的", "是", "是的", "對", "對啊", "有在用", "有在用了", "在用了", "已經在用",
                        "已經在用了", "開始用了", "已經開始用了", "有用了", "用了", "已經用了", "有開始用了", "開始使用了"})
_NO_WORDS = frozenset({"還沒", "還沒有", "還沒用", "還沒用過", "還沒在用", "沒有", "沒有用", "沒在用", "還沒開始",
                       "還沒開始用", "還不會用"})


@registry.intercept_free_text
def answer_in_words(request) -> fw.Turn | None:
    if request.input.kind != "text" or request.ctx.flow:
        return None
    key = fw.squash(request.input.text).rstrip("喔哦啦囉耶呀")
    if key not in _YES_WORDS and key not in _NO_WORDS:
        return None
    pending = service.pending_for_user(request.session, user_id=request.ctx.user_id)
    if not pending:
        return None
    first = [a.id for a in pending if a.company_id == pending[0].company_id and a.started_on == pending[0].started_on]
    return _answer(request, first, key in _YES_WORDS)


# --- usage reports -------------------------------------------------------------------------------

def _usage_minimum(ctx: fw.Context) -> dict:
    return ctx.data.get("_minimum") or {}


def _period_text(ctx: fw.Context) -> str:
    return service.period_label(ctx.data["period"]) if ctx.data.get("period") else ""


def _ask_usage_company(ctx: fw.Context):
    return [Text(t("adoption.usage_ask_company"), (*(ctx.choice(c["name"], str(c["id"]))
                                                     for c in ctx.data.get("_companies", [])[:MAX_CHOICES]),
                                                   Choice(t("core.nav_cancel"))))]


def _parse_usage_company(ctx: fw.Context, user_input: fw.UserInput) -> int:
    answer = user_input.answer_text.strip()
    ids = {c["id"] for c in ctx.data.get("_companies", [])}
    if answer.isdigit() and int(answer) in ids:
        return int(answer)
    found = vp.match_companies(answer, company_refs(ctx))
    if len(found) == 1:
        return found[0]
    raise fw.Invalid(t("adoption.usage_ask_company"))


def _camera(ctx: fw.Context) -> tuple:
    return (Choice(label="📷", kind="camera"), Choice(label="🖼", kind="cameraRoll"))


def _ask_report(ctx: fw.Context):
    minimum = _usage_minimum(ctx)
    return [Text(t("adoption.usage_ask", company=(_company(ctx) or {}).get("name", ""), period=_period_text(ctx),
                   label=minimum.get("label", ""), unit=minimum.get("unit", "")),
                 (*_camera(ctx), *fw.nav_choices(ctx)))]


def parse_figure(text: str) -> float | None:
    """「120」「120張」「一百二十」「1,200」「3k」「大約三十張」 -> the number; None when there is none.

    The owners' words for a figure are the custom KPIs' (parse_amount: 「3k」 is 3,000, not 3);
    a figure named with its own word (「訂單 80 筆」) falls back to the plain count."""
    amount = parse_amount(text)
    if amount is not None:
        return amount.value
    count = parse_count(text)
    return float(count) if count is not None else None


def _figure_or_photo(ctx: fw.Context, user_input: fw.UserInput):
    if user_input.kind == "image" and user_input.message_id:
        return {"photo": user_input.message_id}
    if user_input.kind == "file":
        raise fw.Invalid(t("adoption.usage_file"))
    figure = parse_figure(user_input.answer_text)
    if figure is None:
        raise fw.Invalid(t("adoption.usage_invalid"))
    if not 0 <= figure <= service.MAX_FIGURE:
        raise fw.Invalid(t("adoption.usage_bad_figure", label=_usage_minimum(ctx).get("label", "")),
                         looks_like_question=False)
    return {"figure": figure}


def _store_report(ctx: fw.Context, value):
    if "photo" in value:
        return ctx.evolve(data={**ctx.data, "report": "photo", "_pending_photo": value["photo"]})
    return ctx.evolve(data={**ctx.data, "report": "figure", "figure": value["figure"]})


def _ask_figure(ctx: fw.Context):
    minimum = _usage_minimum(ctx)
    return [Text(t("adoption.usage_ask_figure", period=_period_text(ctx), label=minimum.get("label", "")),
                 (ctx.choice(t("adoption.usage_skip"), "skip"), *_camera(ctx), Choice(t("core.nav_cancel"))))]


def _parse_figure(ctx: fw.Context, user_input: fw.UserInput):
    if user_input.kind != "image" and fw.squash(user_input.answer_text) in ("skip", t("adoption.usage_skip"), "不確定"):
        return {"figure": None}
    return _figure_or_photo(ctx, user_input)


def _store_figure(ctx: fw.Context, value):
    if "photo" in value:
        return ctx.evolve(data={**ctx.data, "_pending_photo": value["photo"]})
    return ctx.evolve(data={**ctx.data, "figure": value["figure"]})


MEDIA_STEP = frozenset({"text", "postback", "image", "file"})
USAGE_STEPS = (
    fw.Step("company", t("adoption.label_company"), _ask_usage_company, _parse_usage_company,
            display=lambda ctx, v: (_company(ctx, v) or {}).get("name", "—")),
    fw.Step("report", t("adoption.usage_title"), _ask_report, _figure_or_photo, store=_store_report,
            accepts=MEDIA_STEP),
    fw.Step("figure", t("adoption.usage_title"), _ask_figure, _parse_figure, store=_store_figure,
            when=lambda ctx: ctx.data.get("report") == "photo", accepts=MEDIA_STEP),
)


def _usage_settled(ctx: fw.Context) -> bool:
    # A figure said before the shop was asked (「這個月發票開了50張」 from an owner of two) waits for it.
    return "company" in ctx.data and (bool(ctx.data.get("_pending_photo")) or "figure" in ctx.data)


def _usage_finish(request) -> fw.Turn:
    ctx = request.ctx
    company = _company(ctx)
    program = programme(request.services.config, company["program"])
    pending = ctx.data.get("_pending_photo")
    screenshot = None
    if pending:
        content = request.photo_content(pending)
        data = {k: v for k, v in ctx.data.items() if k != "_pending_photo"}
        if content is None:
            return fw.current_question(USAGE_FLOW, ctx.evolve(data=data), [Text(t("adoption.usage_photo_failed"))])
        screenshot = (pending, content)
    figure = ctx.data.get("figure")
    try:
        service.report_usage(request.session, program=program, company_id=company["id"], period=ctx.data["period"],
                             user_id=ctx.user_id, figure=figure, screenshot=screenshot, now=ctx.now)
    except service.AdoptionError as error:
        data = {k: v for k, v in ctx.data.items() if k not in ("_pending_photo", "figure")}
        if error.code == "not_image":
            return fw.current_question(USAGE_FLOW, ctx.evolve(data=data), [Text(t("adoption.usage_not_image"))])
        return fw.Turn(ctx.cleared().forget("usage_prefill"), [Text(t("adoption.answer_not_yours"))], show_menu=True)
    minimum = _usage_minimum(ctx)
    values = dict(company=company["name"], period=_period_text(ctx), label=minimum.get("label", ""),
                  unit=minimum.get("unit", ""))
    if screenshot and "figure" not in ctx.data:
        # The screenshot is stored; now the figure it shows (or 略過).
        data = {k: v for k, v in ctx.data.items() if k != "_pending_photo"}
        return fw.current_question(USAGE_FLOW, ctx.evolve(data=data))
    done = ctx.cleared().forget("usage_prefill")
    if figure is None:
        return fw.Turn(done, [Text(t("adoption.usage_thanks_photo", **values))], show_menu=True)
    replies = [Text(t("adoption.usage_thanks", figure=f"{figure:g}", **values))]
    if minimum.get("monthly") is not None and figure < minimum["monthly"]:
        replies.append(Text(t("adoption.usage_below", minimum=f"{minimum['monthly']:g}", unit=minimum.get("unit", ""))))
    return fw.Turn(done, replies, show_menu=True)


USAGE_FLOW = registry.register_flow(fw.Flow(
    id=fw.FlowId.USAGE_REPORT,
    title=t("adoption.usage_title"),
    help=t("adoption.usage_help"),
    steps=USAGE_STEPS,
    finish=_usage_finish,
    summary=False,
    settled=_usage_settled,
    prefill=lambda ctx: dict(ctx.memory.get("usage_prefill") or {}),
))


def _default_period(program, now) -> str:
    period = service.previous_period(now)
    if program.period and period > service.period_of(program.period[1]):
        period = service.period_of(program.period[1])  # after the programme: its last month
    return period


@registry.command("usage_report", "回報使用量", "使用量回報", "回報用量", "流量回報", "回報流量")
def start_usage_report(request) -> fw.Turn:
    """「回報使用量」, or the monthly ask's button (postback arg "<company id>:<2023-07>")."""
    ctx = request.ctx
    companies = service.reportable_companies(request.session, user_id=ctx.user_id)
    if not companies:
        return fw.Turn(ctx, [Text(t("adoption.usage_none"))], show_menu=True)
    company_part, _, period = (request.argument or "").strip().partition(":")
    company_id = int(company_part) if company_part.isdigit() else None
    return _start_usage(request, companies, company_id=company_id, period=period)


def _start_usage(request, companies, *, company_id: int | None = None, period: str = "",
                 answers: dict | None = None) -> fw.Turn:
    """The usage report for ``companies`` (the person's reportable ones): for ``company_id`` when it
    is one of them (or the only one), for ``period`` when valid (else last month), with
    ``answers`` already given (a figure said in chat)."""
    ctx = request.ctx
    answers = dict(answers or {})
    if company_id is not None and any(c.id == company_id for c in companies):
        answers["company"] = company_id
    elif len(companies) == 1:
        answers["company"] = companies[0].id
    chosen = next((c for c in companies if c.id == answers.get("company")), companies[0])
    program = programme(request.services.config, chosen.program_id)
    minimum = program.usage_minimum
    prefill = {**answers, "_companies": _company_records(companies),
               "period": period if service.valid_period(period) else _default_period(program, ctx.now),
               "_minimum": {"label": minimum.label, "unit": minimum.unit, "monthly": minimum.monthly} if minimum else {}}
    return fw.Turn(ctx.remember(usage_prefill=prefill), [], start_flow=fw.FlowId.USAGE_REPORT.value)


@registry.intercept_free_text
def usage_in_words(request) -> fw.Turn | None:
    """An owner stating a figure of use in chat: 「上個月發票開了80張」 (the usage minimum's own, a
    whole month) is recorded for their shop as 「回報使用量」 records it; 「這個月發票開了50張」 too
    once it reaches the month's minimum (the month can only add to it). A figure that is not yet a
    month's (a week, a month under way below the minimum) or a tool's other use (「這禮拜用POS結帳
    120筆」) is thanked for, with how normal use is counted. It went to the FAQ, which read it as a
    question (about hardware) or opened a staff ticket; none is opened here."""
    from companies.service import companies_of_user

    ctx = request.ctx
    text = request.input.text if request.input.kind == "text" else ""
    if not text or ctx.flow or len(text) > 40 or ctx.roles & {"advisor", "staff"} or not ap.may_state_usage(text):
        return None  # most free text holds no number: no database read for it
    companies = companies_of_user(request.session, line_user_id=ctx.user_id)
    if not companies:
        return None
    program = programme(request.services.config, companies[0].program_id)
    minimum = program.usage_minimum
    said = ap.said_usage(text, words=minimum.words if minimum else (), unit=minimum.unit if minimum else "",
                         tools=list(program.tools))
    if said is None:
        return None
    reportable = service.reportable_companies(request.session, user_id=ctx.user_id)
    if said.measure and reportable and minimum:
        period = {"last_month": service.previous_period(ctx.now), "this_month": service.period_of(ctx.now)}.get(said.span)
        if said.span == "last_month" or (period and said.figure >= minimum.monthly):
            return _start_usage(request, reportable, period=period, answers={"report": "figure", "figure": said.figure})
    if not minimum:
        return fw.Turn(ctx, [Text(t("adoption.usage_said_thanks"))], show_menu=True)
    how = t("adoption.usage_said_how" if reportable else "adoption.usage_said_after_adoption",
            label=minimum.label, minimum=f"{minimum.monthly:g}", unit=minimum.unit)
    return fw.Turn(ctx, [Text(t("adoption.usage_said_thanks") + "\n" + how)], show_menu=True)
