"""Custom KPI figures in chat (FlowId.KPI_REPORT): the owner's baseline (once) and last month's
figure for each indicator of the campaign (programs.yaml campaign.custom_kpis), one question
each, answered by a number in words (dialogs.parsing.parse_amount: 「大約 3 萬」「兩百多」) or by
quick reply (「和上次一樣」, 「不知道，略過」), then a summary showing how each answer was read,
where any can be changed. Advisors: 「績效趨勢」.

Steps are generic slots (the i-th indicator's baseline / month) so the indicators stay data: the
command handler puts the company's indicators and what it still owes in the conversation."""
from __future__ import annotations

import re

from bot.messages import Text
from bot.texts import t
from dialogs import framework as fw
from dialogs import registry
from visits.company_step import company_step, shops_named
from dialogs.parsing import parse_amount
from kpis import service
from kpis.settings import Indicator, indicators_of

MAX_INDICATORS = 12  # slots; a proposal has four 面向 with one to three indicators each
SKIP = "skip"


def fmt(value: float) -> str:
    """30000 -> '30,000'; 1.5 -> '1.5'."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")


def shown(answer, unit: str) -> str:
    if answer in (None, SKIP):
        return t("kpis.skipped")
    return t("kpis.value", approx=t("kpis.approx_prefix") if answer.get("a") else "", value=fmt(answer["v"]), unit=unit)


def _indicator(ctx: fw.Context, index: int) -> dict | None:
    items = ctx.data.get("_indicators") or []
    return items[index] if index < len(items) else None


def _wanted(ctx: fw.Context, kind: str, index: int) -> bool:
    item = _indicator(ctx, index)
    company = ctx.data.get("company")
    if item is None or company is None:
        return False
    return item["id"] in ((ctx.data.get("_needs") or {}).get(str(company)) or {}).get(kind, ())


def _slots(ctx: fw.Context) -> list[tuple[str, int]]:
    """The questions this conversation asks, in order: ('b', i) baselines, then ('m', i) months."""
    return [(kind, i) for kind in ("b", "m") for i in range(len(ctx.data.get("_indicators") or []))
            if _wanted(ctx, kind, i)]


def _intro(ctx: fw.Context) -> list[Text]:
    if ctx.repeat or any(name.startswith(("b", "m")) and name[1:].isdigit() for name in ctx.history):
        return []
    company = next((c["name"] for c in ctx.data["_companies"] if c["id"] == ctx.data.get("company")), "")
    lines = [t("kpis.intro", company=company, period=ctx.data["_period_label"], count=len(_slots(ctx)))]
    if any(kind == "b" for kind, _ in _slots(ctx)):
        lines.append(t("kpis.intro_baseline", period=ctx.data["_period_label"]))
    return [Text("\n".join(lines))]


def _asker(kind: str, index: int):
    def ask(ctx: fw.Context):
        item = _indicator(ctx, index)
        slots = _slots(ctx)
        number = slots.index((kind, index)) + 1 if (kind, index) in slots else 1
        choices = []
        last = ((ctx.data.get("_last") or {}).get(str(ctx.data.get("company"))) or {}).get(item["id"])
        if kind == "m" and last is not None:
            choices.append(ctx.choice(t("kpis.button_same"), "same",
                                      display=f"{t('kpis.button_same')}（{fmt(last)} {item['unit']}）"))
        choices.append(ctx.choice(t("kpis.button_skip"), SKIP))
        text = t("kpis.ask_baseline" if kind == "b" else "kpis.ask_month", number=number, count=len(slots),
                 ask=item["baseline_ask"] if kind == "b" else item["ask"])
        return [*_intro(ctx), Text(text, tuple(choices))]
    return ask


# 「多了兩成」「成長20%」「比上個月多50」: a change, where the question wants the figure itself (the
# bot compares it with the baseline); the owner is told so instead of 「看不懂這個數字」.
_RELATIVE = re.compile(r"[多少]了|成長|增加|減少|提升|下降|增長|衰退|變多|變少|[0-9一二兩三四五六七八九十]成|[%％]|趴|倍|比上")


# A count of people (「五個人」「3位」): the answer to another question where the unit is not people.
_PEOPLE = re.compile(r"[0-9一二兩三四五六七八九十百千]\s*(個人|人|位|名)")

# 「營業額100萬可以申請嗎」 is a question for the FAQ, not a figure to report.
_QUESTION = re.compile(r"[?？嗎呢]|可以|能不能|怎麼|如何|多少|幾|是否|請問|要不要|算不算|申請|資格|補助")


def _parser(kind: str, index: int):
    def parse(ctx: fw.Context, user_input: fw.UserInput):
        item = _indicator(ctx, index)
        text = user_input.answer_text.strip()
        if user_input.kind == "postback" and text == SKIP or fw.squash(text) in ("略過", "不知道", "不知道略過", "跳過",
                                                                                 "skip", "不確定"):
            return SKIP
        if user_input.kind == "postback" and text == "same":
            last = ((ctx.data.get("_last") or {}).get(str(ctx.data.get("company"))) or {}).get(item["id"])
            if last is not None:
                return {"v": last, "a": False, "s": t("kpis.button_same")}
        if _PEOPLE.search(text) and "人" not in item["unit"]:
            # 「五個人」 at 營業額: a headcount, not the figure asked (it was taken as 5 元)
            raise fw.Invalid(t("kpis.wrong_unit", text=text[:20], name=item["name"], unit=item["unit"]))
        amount = parse_amount(text, units=item.get("units") or {})
        if amount is None and _RELATIVE.search(text):
            raise fw.Invalid(t("kpis.relative", name=item["name"], unit=item["unit"]))
        if amount is None:
            raise fw.Invalid(t("kpis.unreadable"))
        if amount.value < 0:
            raise fw.Invalid(t("kpis.negative", name=item["name"]))
        if amount.value > item["max"]:
            raise fw.Invalid(t("kpis.too_big", value=fmt(amount.value), name=item["name"], unit=item["unit"]))
        return {"v": amount.number, "a": amount.approximate, "s": text[:60]}
    return parse


def _label(kind: str, index: int):
    def label(ctx: fw.Context) -> str:
        item = _indicator(ctx, index) or {"name": ""}
        if kind == "b":
            return t("kpis.label_baseline", name=item["name"])
        return t("kpis.label_month", name=item["name"], period=ctx.data.get("_period_label", ""))
    return label


def _display(kind: str, index: int):
    return lambda ctx, value: shown(value, (_indicator(ctx, index) or {}).get("unit", ""))


STEPS = (
    company_step("kpis", t("kpis.label_company"), when=lambda ctx: len(ctx.data.get("_companies") or ()) > 1),
    *(fw.Step(f"{kind}{index}", t("kpis.title"), _asker(kind, index), _parser(kind, index),
              when=(lambda kind, index: lambda ctx: _wanted(ctx, kind, index))(kind, index),
              display=_display(kind, index), label_of=_label(kind, index))
      for kind in ("b", "m") for index in range(MAX_INDICATORS)),
)


def _finish(request) -> fw.Turn:
    ctx, session = request.ctx, request.session
    companies = {c.id: c for c in service.reporting_companies(session, line_user_id=ctx.user_id)}
    company = companies.get(ctx.data.get("company"))
    if company is None:  # no longer a member of it since the questions began
        return fw.Turn(ctx.cleared().forget("kpi_prefill"), [Text(t("kpis.none"))], show_menu=True)
    period, label = ctx.data["_period"], ctx.data["_period_label"]
    lines = []
    for kind, index in _slots(ctx):
        item = _indicator(ctx, index)
        answer = ctx.data.get(f"{kind}{index}")
        if answer in (None, SKIP):
            continue
        service.record(session, company_id=company.id, program_id=company.program_id, indicator=item["id"],
                       period=service.BASELINE if kind == "b" else period, value=answer["v"],
                       approximate=bool(answer.get("a")), said=answer.get("s", ""), reported_by=ctx.user_id,
                       now=ctx.now)
    session.flush()
    trend = service.series(session, company_ids=[company.id]).get(company.id, {})
    for item in ctx.data["_indicators"]:
        periods = trend.get(item["id"]) or {}
        before, now = periods.get(service.BASELINE), periods.get(period)
        if now is None:
            continue
        if before is None or item["aggregate"] == "latest" and before.value == now.value:
            lines.append(t("kpis.thanks_line", name=item["name"], value=_figure(now, item["unit"])))
            continue
        change = now.value - before.value
        suffix = (t("kpis.trend_change_up", change=fmt(change)) if change > 0 else
                  t("kpis.trend_change_down", change=fmt(-change)) if change < 0 else "")
        lines.append(t("kpis.trend_line", name=item["name"], before=_figure(before, item["unit"]), period=label,
                       after=_figure(now, item["unit"])) + suffix)
    text = "\n".join([t("kpis.thanks", company=company.name or "", period=label), *lines, t("kpis.next_month")])
    return fw.Turn(ctx.cleared().forget("kpi_prefill"), [Text(text)], show_menu=True)


def _figure(row, unit: str) -> str:
    return t("kpis.value", approx=t("kpis.approx_prefix") if row.approximate else "", value=fmt(row.value), unit=unit)


FLOW = registry.register_flow(fw.Flow(
    id=fw.FlowId.KPI_REPORT,
    title=t("kpis.title"),
    help=t("kpis.help"),
    steps=STEPS,
    finish=_finish,
    summary=True,
    summary_title=t("kpis.summary_title"),
    requires_consent=True,
    prefill=lambda ctx: dict(ctx.memory.get("kpi_prefill") or {}),
))


def indicator_records(indicators: tuple[Indicator, ...]) -> list[dict]:
    return [{"id": i.id, "name": i.name, "ask": i.ask, "baseline_ask": i.baseline_ask, "unit": i.unit, "max": i.max,
             "units": dict(i.units), "aggregate": i.aggregate} for i in indicators[:MAX_INDICATORS]]


def _start(request, *, correct: bool, said: tuple[Indicator, dict | None] | None = None) -> fw.Turn:
    from visits.service import company_choices

    ctx, session = request.ctx, request.session
    companies = service.reporting_companies(session, line_user_id=ctx.user_id)
    if not companies:
        return fw.Turn(ctx, [Text(t("kpis.none"))], show_menu=True)
    company_part, _, period = (request.argument or "").strip().partition(":")
    chosen = None
    if company_part.isdigit():
        chosen = next((c for c in companies if c.id == int(company_part)), None)
    if chosen is None and len(companies) == 1:
        chosen = companies[0]
    program_id = (chosen or companies[0]).program_id
    indicators = indicators_of(request.services.config, program_id)
    if not indicators:
        return fw.Turn(ctx, [Text(t("kpis.not_set"))], show_menu=True)
    period = period if service.valid_period(period) else service.previous_period(ctx.now)
    needs, last = {}, {}
    for company in companies:
        owed = service.needs(session, company_id=company.id, indicators=indicators, period=period)
        month = tuple(i.id for i in indicators) if correct else owed.month
        needs[str(company.id)] = {"b": list(owed.baseline), "m": list(month)}
        last[str(company.id)] = {k: v.value for k, v in service.last_values(session, company_id=company.id,
                                                                             before=period).items()}
    if chosen is not None and not any(needs[str(chosen.id)].values()):
        return fw.Turn(ctx, [Text(t("kpis.nothing_needed", company=chosen.name or "",
                                    period=service.period_label(period)))], show_menu=True)
    prefill = {"_companies": company_choices(companies), "_indicators": indicator_records(indicators), "_needs": needs,
               "_last": last, "_period": period, "_period_label": service.period_label(period)}
    if chosen is not None:
        prefill["company"] = chosen.id
    lead = []
    if said is not None:
        item, answer = said
        index = next((i for i, record in enumerate(prefill["_indicators"]) if record["id"] == item.id), None)
        wanted = chosen is not None and index is not None and item.id in needs[str(chosen.id)]["m"]
        if answer is not None and wanted:
            prefill[f"m{index}"] = answer  # asked no more; shown in the summary, where it can be changed
            lead.append(Text(t("kpis.said_kept", name=item.name, value=shown(answer, item.unit),
                               period=prefill["_period_label"])))
        else:
            lead.append(Text(t("kpis.said_ask", name=item.name)))
    return fw.Turn(ctx.remember(kpi_prefill=prefill), lead, start_flow=fw.FlowId.KPI_REPORT.value)


@registry.intercept_free_text
def figure_in_words(request) -> fw.Turn | None:
    """「這個月來客大概300」「營業額多了兩成」 typed out of the blue by someone who reports figures: the
    report starts with that figure filled in as last month's (or, for a change, the question for the
    figure itself), where the FAQ explained what custom KPIs are and the number was lost."""
    ctx = request.ctx
    text = request.input.text if request.input.kind == "text" else ""
    if not text or ctx.flow or len(text) > 40 or ctx.roles & {"advisor", "staff"} or _QUESTION.search(text):
        return None
    if not re.search(r"[0-9０-９一二兩三四五六七八九十百千萬]", text):
        return None
    indicators = indicators_of(request.services.config, None)
    named = [i for i in indicators if any(word and word in text for word in (i.name, *i.words))]
    if len(named) != 1:
        return None
    item = named[0]
    amount = parse_amount(text, units=dict(item.units))
    relative = _RELATIVE.search(text)
    if amount is None and not relative:
        return None
    if not service.reporting_companies(request.session, line_user_id=ctx.user_id):
        return None
    answer = None
    if amount is not None and not relative and 0 <= amount.value <= item.max:
        answer = {"v": amount.number, "a": amount.approximate, "s": text[:60]}
    return _start(request, correct=False, said=(item, answer))


@registry.command("kpi_report", "回報績效", "績效回報", "填績效", "填寫績效", "回報數字", "自訂績效")
def start(request) -> fw.Turn:
    """「回報績效», or the monthly ask's button (postback arg "<company id>:<2023-07>")."""
    return _start(request, correct=False)


@registry.command("kpi_correct", "修改績效", "更正績效", "改績效")
def correct(request) -> fw.Turn:
    return _start(request, correct=True)


@registry.command("kpi_trend", "績效趨勢", "自訂績效趨勢", "店家績效", role="advisor", names_shop=True)
def advisor_trend(request) -> fw.Turn:
    """The advisor's companies: each KPI over them, and each company's figures then and now."""
    from checkpoints.settings import programme
    from visits.service import advisor_companies

    ctx, session = request.ctx, request.session
    companies, notes = shops_named(request, advisor_companies(session, advisor=ctx.user_id))
    if not companies:
        return fw.Turn(ctx, [Text(t("kpis.advisor_none"))], show_menu=True)
    program = programme(request.services.config, companies[0].program_id)
    indicators = indicators_of(request.services.config, program.id)
    if not indicators:
        return fw.Turn(ctx, [Text(t("kpis.not_set"))], show_menu=True)
    found = service.series(session, company_ids=[c.id for c in companies])
    lines = [t("kpis.advisor_title", period=service.period_label(service.previous_period(ctx.now)))]
    for indicator in indicators:
        kpi = next((k for k in program.kpis if k.metric == indicator.metric), None)
        values = [v for c in companies if (v := service.contribution(indicator, found.get(c.id, {}).get(indicator.id)))
                  is not None]
        total = service.combine(indicator, values)
        lines.append(t("kpis.advisor_kpi", label=kpi.label if kpi else indicator.name, done=fmt(total),
                       target=fmt(kpi.target) if kpi else "—", unit=kpi.unit if kpi else indicator.unit))
    reported = 0
    for company in companies[:20]:
        name = company.name or company.tax_id or f"#{company.id}"
        items = []
        for indicator in indicators:
            periods = found.get(company.id, {}).get(indicator.id) or {}
            latest, before = service.latest_month(periods), periods.get(service.BASELINE)
            if latest is not None:
                items.append(t("kpis.advisor_item", name=indicator.name, before=fmt(before.value) if before else "—",
                               after=fmt(latest.value)))
        reported += bool(items)
        lines.append(t("kpis.advisor_company", company=name, lines="；".join(items)) if items
                     else t("kpis.advisor_company_none", company=name))
    lines.append(t("kpis.advisor_reported", reported=sum(1 for c in companies if found.get(c.id)), all=len(companies)))
    return fw.Turn(ctx, [*notes, Text("\n".join(lines))], show_menu=True)
