"""「/抽換」 (staff): mark a company replaced — which one, why, who takes its place — after the 50 %
rule is checked (FlowId.REPLACEMENT). 「/抽換 好味道小吃」 names the company at once."""
from __future__ import annotations

from bot.messages import Card, Choice, Text
from bot.texts import t
from dialogs import framework as fw
from dialogs import registry
from letters.document import campaign_settings
from replacements import service
from scheduler.settings import default_schedule
from visits import parse as vp
from visits.company_step import company_name as _name
from visits.company_step import company_step

def _refs(ctx: fw.Context, *, skip: int | None = None) -> list[vp.CompanyRef]:
    return [vp.CompanyRef(c["id"], c["name"], c.get("tax_id")) for c in ctx.data.get("_companies", [])
            if c["id"] != skip]


def _match(ctx: fw.Context, user_input: fw.UserInput, *, skip: int | None = None):
    answer = user_input.answer_text.strip()
    ids = {c.id for c in _refs(ctx, skip=skip)}
    if user_input.kind == "postback" and answer.isdigit() and int(answer) in ids:
        return int(answer)
    found = vp.match_companies(answer, _refs(ctx, skip=skip))
    if len(found) == 1:
        return found[0]
    if found:
        return {"ambiguous": found}
    return None


def _ask_reason(ctx: fw.Context):
    return [Text(t("replacements.ask_reason"), (*(Choice(reason) for reason in service.REASONS), *fw.nav_choices(ctx)))]


def _parse_reason(ctx: fw.Context, user_input: fw.UserInput) -> str:
    answer = " ".join(user_input.answer_text.split())
    if len(answer) < 2:
        raise fw.Invalid(t("replacements.reason_invalid"))
    return answer[:200]


def _ask_successor(ctx: fw.Context):
    candidates = ctx.data.get("_successor_candidates") or []
    shown = [c for c in ctx.data.get("_companies", []) if c["id"] in candidates]
    return [Text(t("replacements.ask_successor"), (*(ctx.choice(c["name"], str(c["id"])) for c in shown[:10]),
                                                   ctx.choice(t("replacements.successor_none"), "0"),
                                                   *fw.nav_choices(ctx)))]


def _parse_successor(ctx: fw.Context, user_input: fw.UserInput):
    answer = user_input.answer_text.strip()
    if answer in ("0", t("replacements.successor_none"), "沒有", "無", "略過"):
        return 0
    found = _match(ctx, user_input, skip=ctx.data.get("company"))
    if found is None:
        if vp.match_companies(answer, _refs(ctx)) == [ctx.data.get("company")]:
            raise fw.Invalid(t("replacements.successor_same"), looks_like_question=False)
        raise fw.Invalid(t("replacements.successor_not_found", text=answer[:20]))
    return found


def _store_successor(ctx: fw.Context, value):
    data = {k: v for k, v in ctx.data.items() if k != "_successor_candidates"}
    if isinstance(value, dict):
        return ctx.evolve(data={**data, "_successor_candidates": value["ambiguous"]})
    return ctx.evolve(data={**data, "successor": value}, history=(*ctx.history, "successor"))


STEPS = (
    company_step("replacements", t("replacements.label_company")),
    fw.Step("reason", t("replacements.label_reason"), _ask_reason, _parse_reason),
    fw.Step("successor", t("replacements.label_successor"), _ask_successor, _parse_successor, store=_store_successor,
            display=lambda ctx, v: _name(ctx, v) if v else t("replacements.successor_none")),
)


def error_text(error: service.ReplacementError) -> str:
    return t(f"replacements.{error.code}", **error.info)


def _finish(request) -> fw.Turn:
    ctx = request.ctx
    done = ctx.cleared().forget("replacement_prefill")
    config = request.services.config
    company_id = int(ctx.data["company"])
    program_id = next((c["program"] for c in ctx.data.get("_companies", []) if c["id"] == company_id), "gonghao-2023")
    try:
        row, result = service.replace_company(
            request.session, company_id=company_id, reason=ctx.data["reason"],
            successor_id=int(ctx.data.get("successor") or 0) or None, actor=ctx.user_id,
            campaign=campaign_settings(config, program_id), schedule=default_schedule(config, program_id), now=ctx.now)
    except service.ReplacementError as error:
        return fw.Turn(done, [Text(error_text(error))], show_menu=True)
    return fw.Turn(done, [done_card(request.session, row, result)], show_menu=True)


def done_card(session, row, result) -> Card:
    from companies.models import Company
    from companies.service import owners_of

    successor = session.get(Company, row.successor_company_id) if row.successor_company_id else None
    notes = [t("replacements.done_ratio", count=result.count + int(result.counted), base=result.base,
               ratio=f"{result.ratio_after:.0%}", limit=f"{result.limit:.0%}") if result.counted
             else t("replacements.done_not_counted")]
    if successor is not None:
        if successor.letter_status == "signed":
            notes.append(t("replacements.done_signed"))
        elif owners_of(session, company_id=successor.id):
            notes.append(t("replacements.done_chased"))
        else:
            notes.append(t("replacements.done_no_owner"))
    return Card(title=t("replacements.done_title"),
                rows=((t("replacements.label_company"), service.company_name(session.get(Company, row.company_id))),
                      (t("replacements.label_reason"), row.reason),
                      (t("replacements.label_successor"), service.company_name(successor) if successor
                       else t("replacements.successor_none"))),
                body="\n".join(notes))


REPLACEMENT_FLOW = registry.register_flow(fw.Flow(
    id=fw.FlowId.REPLACEMENT,
    title=t("replacements.flow_title"),
    help=t("replacements.flow_help"),
    steps=STEPS,
    finish=_finish,
    summary_title=t("replacements.summary_title"),
    prefill=lambda ctx: dict(ctx.memory.get("replacement_prefill") or {}),
))


@registry.command("replacement", "/抽換", "/抽換企業", prefix=True, role="staff")
def start_replacement(request) -> fw.Turn:
    companies = service.active_companies(request.session)
    records = [{"id": c.id, "name": service.company_name(c), "tax_id": c.tax_id, "program": c.program_id}
               for c in companies]
    prefill: dict = {"_companies": records}
    argument = (request.argument or "").strip()
    if argument:
        refs = [vp.CompanyRef(c["id"], c["name"], c["tax_id"]) for c in records]
        found = vp.match_companies(argument, refs)
        if len(found) == 1:
            prefill["company"] = found[0]
        elif found:
            prefill["_candidates"] = found
    ctx = request.ctx.remember(replacement_prefill=prefill)
    return fw.Turn(ctx, [], start_flow=fw.FlowId.REPLACEMENT.value)
