"""數位健檢 in chat (FlowId.CHECKUP): one step per question of checkup/checkup.yaml, each a row of
quick replies (typing an option's words works too), then the result card: the level on 004's five
levels as a bar, points per area, the next step (the campaign's tools for the weakest areas, or
another programme where it fits better) and, when the company took it before, what improved.
Advisors: 「健檢結果」 lists their companies' levels (before a visit)."""
from __future__ import annotations

from bot.messages import Card, Gauge, Text
from bot.texts import t
from bot.timeutil import format_roc_date
from checkup import service
from checkup.settings import Checkup, Question, checkup
from dialogs import framework as fw
from dialogs import registry
from dialogs.parsing import is_unsure
from visits.company_step import company_step, shops_named

CHECKUP = checkup()  # read once at start: the flow's steps are its questions
GREEN, GREY = "#06C755", "#9E9E9E"


def _intro(ctx: fw.Context) -> list[Text]:
    if ctx.repeat or any(step.startswith("q_") for step in ctx.history):
        return []
    count = len(CHECKUP.questions)
    if ctx.data.get("_before_date"):
        return [Text(t("checkup.intro_again", count=count, date=ctx.data["_before_date"]))]
    if not ctx.data.get("_companies"):
        return [Text(t("checkup.intro_no_company", count=count))]
    return [Text(t("checkup.intro", count=count))]


# --- the questions ----------------------------------------------------------------------------------

def _asker(question: Question, number: int):
    def ask(ctx: fw.Context):
        text = t("checkup.question", number=number, count=len(CHECKUP.questions), ask=question.ask)
        return [*_intro(ctx), Text(text, tuple(ctx.choice(o.label, o.id) for o in question.options))]
    return ask


def _parser(question: Question):
    def parse(ctx: fw.Context, user_input: fw.UserInput) -> str:
        answer = fw.squash(user_input.answer_text)
        if user_input.kind == "postback" and question.option(user_input.answer_text):
            return user_input.answer_text
        exact = [o.id for o in question.options if answer in (fw.squash(o.label), fw.squash(o.text))]
        if exact:
            return exact[0]
        # A typed part of one option only (「POS」 → 用POS收銀系統); two or more: ask again.
        partial = [o.id for o in question.options
                   if len(answer) >= 2 and (answer in fw.squash(o.text) or answer in fw.squash(o.label))]
        if len(partial) == 1:
            return partial[0]
        if is_unsure(user_input.answer_text):
            # A check-up has no wrong answers: the nearest option is enough, the first when nothing is done.
            raise fw.Invalid(t("checkup.pick_closest", first=question.options[0].label), looks_like_question=False)
        raise fw.Invalid(t("checkup.pick_option", example=question.options[-1].label))
    return parse


def _display(question: Question):
    def display(ctx: fw.Context, value) -> str:
        option = question.option(str(value))
        return option.label if option else "—"
    return display


STEPS = (
    company_step("checkup", t("checkup.label_company"), when=lambda ctx: len(ctx.data.get("_companies") or ()) > 1),
    *(fw.Step(f"q_{q.id}", q.ask, _asker(q, n), _parser(q), display=_display(q))
      for n, q in enumerate(CHECKUP.questions, start=1)),
)


def answers_of(ctx: fw.Context) -> dict[str, str]:
    return {q.id: ctx.data[f"q_{q.id}"] for q in CHECKUP.questions if f"q_{q.id}" in ctx.data}


# --- the result ------------------------------------------------------------------------------------

def next_steps(data: Checkup, result, *, tools: dict[str, str], level: int, program_id: str | None,
               programme_names: dict[str, str]) -> list[str]:
    """The lines of 「建議下一步」: the weakest areas' tips with the campaign tools that help them,
    and another programme where the level says it fits better."""
    lines, names = [], []
    for area in data.weakest_areas(result):
        lines.append(t("checkup.next_line", tip=area.tip))
        names += [tools[tool] for tool in area.tools if tool in tools and tools[tool] not in names]
    if names:
        lines.append(t("checkup.next_tools", tools="、".join(names)))
    for other in data.other_programs:
        if level >= other.from_level and other.program != program_id and other.program in programme_names:
            lines.append(t("checkup.next_line", tip=other.note.format(name=programme_names[other.program])))
    return lines


def result_card(data: Checkup, row, *, baseline=None, tools: dict[str, str], program_id: str | None,
                programme_names: dict[str, str]) -> Card:
    level = data.level(row.level)
    result = data.score(row.answers)
    if baseline is not None:
        gauges = (Gauge(t("checkup.gauge_before", level=baseline.level, date=format_roc_date(baseline.taken_at)),
                        baseline.level, data.top_level, GREY),
                  Gauge(t("checkup.gauge_after", level=row.level), row.level, data.top_level, GREEN))
    else:
        gauges = (Gauge(t("checkup.gauge_now", level=row.level, name=level.name), row.level, data.top_level, GREEN),)
    parts = [level.meaning]
    if baseline is not None:
        change = row.level - baseline.level
        parts.append(t("checkup.level_up", count=change) if change > 0 else
                     t("checkup.level_same") if change == 0 else t("checkup.level_down"))
        moved = service.improvements(data, baseline.answers, row.answers)
        parts.append("\n".join([t("checkup.improved_title"),
                                *(t("checkup.improved_line", question=q.ask.split("？")[0].split("（")[0], before=b,
                                    after=a) for q, b, a in moved[:6])]) if moved else t("checkup.improved_none"))
    steps = next_steps(data, result, tools=tools, level=row.level, program_id=program_id,
                       programme_names=programme_names)
    if steps:
        parts.append("\n".join([t("checkup.next_step"), *steps]))
    rows = tuple((area.name, t("checkup.area_row", points=result.areas[area.id][0], max=result.areas[area.id][1]))
                 for area in data.areas)
    return Card(title=t("checkup.result_title", level=row.level), gauges=gauges, rows=rows, body="\n\n".join(parts),
                note=t("checkup.note"), alt_text=t("checkup.result_alt", level=row.level, name=level.name))


def campaign_context(config, program_id: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """(the programme's tools {id: name}, every programme's {id: name}) for the next steps."""
    from checkpoints.settings import DEFAULT_PROGRAM, programmes

    found = programmes(config)
    chosen = found.get(program_id or DEFAULT_PROGRAM)
    return ({tool.id: tool.name for tool in chosen.tools} if chosen else {},
            {pid: p.name for pid, p in found.items()})


def _finish(request) -> fw.Turn:
    ctx, session = request.ctx, request.session
    companies = service.companies_for(session, line_user_id=ctx.user_id)
    wanted = ctx.data.get("company") or (ctx.data["_companies"][0]["id"] if ctx.data.get("_companies") else None)
    # None also when no longer a member (or replaced) since the check-up began: kept on the person.
    company = next((c for c in companies if c.id == wanted), None)
    row, baseline = service.save(session, checkup=CHECKUP, line_user_id=ctx.user_id, company=company,
                                 answers=answers_of(ctx), now=ctx.now)
    tools, names = campaign_context(request.services.config, company.program_id if company else None)
    card = result_card(CHECKUP, row, baseline=baseline, tools=tools, program_id=company.program_id if company else None,
                       programme_names=names)
    replies = [card]
    if company is None:
        replies.append(Text(t("checkup.saved_person")))
    return fw.Turn(ctx.cleared().forget("checkup_prefill"), replies, show_menu=True)


FLOW = registry.register_flow(fw.Flow(
    id=fw.FlowId.CHECKUP,
    title=t("checkup.title"),
    help=t("checkup.help"),
    steps=STEPS,
    finish=_finish,
    summary=False,
    requires_consent=True,
    prefill=lambda ctx: dict(ctx.memory.get("checkup_prefill") or {}),
))


@registry.command("checkup", "數位健檢", "健檢", "數位健康檢查", "做數位健檢", "開始數位健檢", "數位程度")
def start(request) -> fw.Turn:
    """「數位健檢」, or the scheduler's button (postback arg: the company id)."""
    from visits.service import company_choices

    ctx, session = request.ctx, request.session
    companies = service.companies_for(session, line_user_id=ctx.user_id)
    prefill: dict = {"_companies": company_choices(companies)}
    argument = (request.argument or "").strip()
    if argument.isdigit() and any(c.id == int(argument) for c in companies):
        prefill["company"] = int(argument)
    elif len(companies) == 1:
        prefill["company"] = companies[0].id
    if prefill.get("company"):
        first = service.first_result(session, company_id=prefill["company"], line_user_id=ctx.user_id)
        if first is not None:
            prefill["_before_date"] = format_roc_date(first.taken_at)
    elif not companies:
        first = service.first_result(session, company_id=None, line_user_id=ctx.user_id)
        if first is not None:
            prefill["_before_date"] = format_roc_date(first.taken_at)
    return fw.Turn(ctx.remember(checkup_prefill=prefill), [], start_flow=fw.FlowId.CHECKUP.value)


MAX_CARDS = 4  # a reply holds five messages: the cards and the closing line


def own_results(request) -> fw.Turn:
    """An owner's 「健檢結果」: the latest result card of each of their shops (compared with the
    first), or of the person without a shop; only what they speak for."""
    ctx, session = request.ctx, request.session
    companies, notes = shops_named(request, service.companies_for(session, line_user_id=ctx.user_id))
    found = service.progress(session, company_ids=[c.id for c in companies]) if companies else {}
    entries = [(c.program_id, found[c.id]) for c in companies if c.id in found]
    if not companies:
        mine = service.person_progress(session, line_user_id=ctx.user_id)
        entries = [(None, mine)] if mine else []
    if not entries:
        return fw.Turn(ctx, [*notes, Text(t("checkup.own_none"))], show_menu=True)
    cards = []
    for program_id, entry in entries[:MAX_CARDS - len(notes)]:
        tools, names = campaign_context(request.services.config, program_id)
        cards.append(result_card(CHECKUP, entry.latest, baseline=entry.baseline if entry.compared else None,
                                 tools=tools, program_id=program_id, programme_names=names))
    return fw.Turn(ctx, [*notes, *cards, Text(t("checkup.own_again"))], show_menu=True)


# Advisors get their shops' list, anyone else their own results (never another's: both read only
# the companies the asker is assigned to or speaks for).
@registry.command("checkup_advisor", "健檢結果", "數位健檢結果", "店家健檢", "我的健檢結果", "我的數位健檢結果",
                  role="advisor", others=own_results, names_shop=True)
def advisor_overview(request) -> fw.Turn:
    """Each of the advisor's companies: the level then and now, what improved, the weakest areas."""
    from visits.service import advisor_companies

    ctx, session = request.ctx, request.session
    companies, notes = shops_named(request, advisor_companies(session, advisor=ctx.user_id))
    if not companies:
        return fw.Turn(ctx, [Text(t("checkup.advisor_none"))], show_menu=True)
    found = service.progress(session, company_ids=[c.id for c in companies])
    lines = [t("checkup.advisor_title")]
    for company in companies:
        name = company.name or company.tax_id or f"#{company.id}"
        entry = found.get(company.id)
        if entry is None:
            lines.append(t("checkup.advisor_line_none", company=name))
            continue
        lines.append(t("checkup.advisor_line", company=name, levels=service.level_text(entry)))
        if entry.compared:
            moved = service.improvements(CHECKUP, entry.baseline.answers, entry.latest.answers)
            if moved:
                lines.append(t("checkup.advisor_improved", items="、".join(q.ask.split("？")[0][:8] for q, _, _ in moved[:4])))
        weak = CHECKUP.weakest_areas(CHECKUP.score(entry.latest.answers))
        if weak:
            lines.append(t("checkup.advisor_weak", areas="、".join(a.name for a in weak)))
    compared = [e for e in found.values() if e.compared]
    lines.append(t("checkup.advisor_summary", taken=len(found), all=len(companies), compared=len(compared),
                   up=sum(1 for e in compared if e.change > 0)))
    return fw.Turn(ctx, [*notes, Text("\n".join(lines))], show_menu=True)
