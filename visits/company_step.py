"""The 「哪一家？」 step the visit log introduced, shared by every advisor/staff conversation that
names a company (visit log, adoption, 抽換): the company by quick reply, 統編, name or fuzzy name
(visits.parse.match_companies) among the JSON-able records in ``ctx.data["_companies"]``
({"id", "name", "tax_id"}); several close names are asked again among those (``_candidates``).

Its zh-TW copy comes from the conversation's own namespace: ``<ns>.ask_company``,
``ask_company_among``, ``company_more``, ``company_not_found``, ``company_not_yours``.

Read commands followed by a shop's name (「我的進度 阿明」) narrow with ``shops_named``, by the
same matching.
"""
from __future__ import annotations

from bot.messages import Choice, Text
from bot.texts import t
from dialogs import framework as fw
from dialogs.parsing import is_non_answer
from visits import parse as vp

MAX_CHOICES = 11  # + 上一步/取消 fit LINE's 13 quick replies


def company_refs(ctx: fw.Context) -> list[vp.CompanyRef]:
    return [vp.CompanyRef(c["id"], c["name"], c.get("tax_id")) for c in ctx.data.get("_companies", [])]


def company_name(ctx: fw.Context, company_id) -> str:
    return next((c["name"] for c in ctx.data.get("_companies", []) if c["id"] == company_id), "—")


def company_step(namespace: str, label: str, **step) -> fw.Step:
    def ask(ctx: fw.Context):
        candidates = ctx.data.get("_candidates") or []
        companies = ctx.data.get("_companies", [])
        shown = [c for c in companies if c["id"] in candidates] if candidates else companies
        text = t(f"{namespace}.ask_company_among") if candidates else t(f"{namespace}.ask_company")
        if len(shown) > MAX_CHOICES:
            text += "\n" + t(f"{namespace}.company_more", shown=MAX_CHOICES)
        return [Text(text, (*(ctx.choice(c["name"], str(c["id"])) for c in shown[:MAX_CHOICES]),
                            Choice(t("core.nav_cancel"))))]

    def parse(ctx: fw.Context, user_input: fw.UserInput):
        answer = user_input.answer_text.strip()
        ids = {c["id"] for c in ctx.data.get("_companies", [])}
        if user_input.kind == "postback" and answer.isdigit() and int(answer) in ids:
            return int(answer)
        found = vp.match_companies(answer, company_refs(ctx))
        if len(found) == 1:
            return found[0]
        if found:
            return {"ambiguous": found}
        tax = vp.TAX_ID.search(answer)
        if tax:
            raise fw.Invalid(t(f"{namespace}.company_not_yours", tax_id=tax.group(1)), looks_like_question=False)
        raise fw.Invalid(t(f"{namespace}.company_not_found", text=answer[:20]))

    def store(ctx: fw.Context, value):
        data = {k: v for k, v in ctx.data.items() if k != "_candidates"}
        if isinstance(value, dict):
            return ctx.evolve(data={**data, "_candidates": value["ambiguous"]})
        return ctx.evolve(data={**data, "company": value}, history=(*ctx.history, "company"))

    step.setdefault("display", lambda ctx, v: company_name(ctx, v))
    return fw.Step("company", label, ask, parse, store=store, **step)


def shops_named(request, companies: list) -> tuple[list, list[Text]]:
    """The shops a read command's words name (``request.argument``: 「我的進度 阿明」), looked for only
    among ``companies``, the ones the asker may see (an advisor's assigned shops, an owner's own):
    (those named, no note), or (all of them, a note) when the words name none of them. A shop
    outside the list is never looked up, so the answer cannot tell whether it exists."""
    words = (request.argument or "").strip()
    if not words or is_non_answer(words):
        return companies, []
    refs = [vp.CompanyRef(c.id, c.name or "", c.tax_id) for c in companies]
    named = set(vp.match_companies(words, refs))
    if named:
        return [c for c in companies if c.id in named], []
    if "advisor" in request.ctx.roles:
        return companies, [Text(t("visits.named_not_assigned", words=words[:20]))] if companies else []
    return companies, [Text(t("visits.named_not_own"))]
