"""The FAQ in chat: free text that is not a command nor an answer to a pending question.

Bands (knowledge.calibration): a confident answer shows the answer, a 「來源：…」 line and 2–3
related questions as quick replies; the middle band asks 「你是想問…？」 with the top 3 plus
「都不是，請專人回覆」; below that the bot says it does not know, logs the question and tells
staff. Staff answer with 「/回覆 ID 內容」 and can teach the KB with 「/加入題庫 ID 題目代碼」.
"""
from __future__ import annotations

import logging

from bot.messages import Choice, Text, encode_postback
from bot.texts import t
from dialogs import framework as fw
from dialogs.registry import command, set_free_text_handler

from . import unanswered
from .loader import ALLOWED_PROGRAMS

log = logging.getLogger(__name__)

MEMORY_LAST_ENTRY = "faq_last_entry"   # previous answered entry: follow-ups (「那共融呢？」)
MEMORY_PENDING = "faq_pending"         # the question behind a 「你是想問…？」 / programme choice
MEMORY_PROGRAM = "faq_program"         # programme the owner picked for an ambiguous question
MEMORY_HANDOFF = "handoff"             # 「找專人」: the next message is a question for staff
PENDING_MAX_CHARS = 500
PROGRAM_CHOICES = (("gonghao-2023", "faq.program_gonghao"), ("cluster-2022", "faq.program_cluster"))
# Which programme a conversation in progress is about (a flow's own data wins when it has one).
FLOW_PROGRAMS = {fw.FlowId.ELIGIBILITY.value: "gonghao-2023", fw.FlowId.CLUSTER_CHECK.value: "cluster-2022",
                 fw.FlowId.LETTER.value: "gonghao-2023"}
KNOWN_PROGRAMS = set(ALLOWED_PROGRAMS) - {"general"}


# --- context -------------------------------------------------------------------------------------
def program_hint(request) -> str | None:
    """The programme the owner's situation settles: an intake in progress (or paused), their
    company, or the programme they picked last time."""
    ctx = request.ctx
    flows = []
    if ctx.flow:
        flows.append((ctx.flow, ctx.data))
    paused = ctx.memory.get("paused") or {}
    if paused.get("flow"):
        flows.append((paused["flow"], paused.get("data") or {}))
    for flow_id, data in flows:
        program = (data or {}).get("program")
        if program in KNOWN_PROGRAMS:
            return program
        if flow_id in FLOW_PROGRAMS:
            return FLOW_PROGRAMS[flow_id]
    try:
        from companies.service import latest_company_of_user

        company = latest_company_of_user(request.session, line_user_id=ctx.user_id)
    except Exception:  # companies domain absent or schema not there: no hint, still answer
        log.debug("no company lookup for FAQ hint", exc_info=True)
        company = None
    if company is not None and company.program_id in KNOWN_PROGRAMS:
        return company.program_id
    picked = ctx.memory.get(MEMORY_PROGRAM)
    return picked if picked in KNOWN_PROGRAMS else None


def readable_source(source: str) -> str:
    """「002 叁 輔導對象」 -> 「112年數位共好計畫提案作業規範 叁 輔導對象」."""
    number, _, section = source.partition(" ")
    key = "doc_staff" if number == "承辦回覆" else f"doc_{number}"
    try:
        name = t(f"faq.{key}")
    except KeyError:
        return source
    return name if number == "承辦回覆" else f"{name} {section}".strip()


def _question_choice(question: str) -> Choice:
    # A message action: tapping "says" the question, which the FAQ then answers.
    return Choice(label=question, text=question)


def _is_chitchat(text: str) -> bool:
    key = fw.squash(text).strip("!！~～。.")
    words = {w.strip().lower().replace(" ", "") for w in t("faq.chitchat_words").split("|")}
    return key in words


# --- the free-text handler ---------------------------------------------------------------------------
def answer_free_text(request) -> fw.Turn:
    ctx = request.ctx
    text = request.input.text if request.input.kind == "text" else request.input.answer_text
    kb = request.services.kb
    if kb is None or not text.strip():
        return fw.Turn(ctx, [Text(t("core.menu_prompt"))], show_menu=True)
    if ctx.memory.get(MEMORY_HANDOFF):
        # The person asked for a human (「找專人」): this text is their question for staff.
        request.ctx = ctx.forget(MEMORY_HANDOFF)
        row = unanswered.log_question(request.session, line_user_id=ctx.user_id, question=text, reason="handoff")
        return fw.Turn(request.ctx, [Text(t("faq.handoff_logged", id=row.id))], show_menu=True)
    if _is_chitchat(text):
        return fw.Turn(ctx, [Text(t("faq.chitchat_reply"))])
    hint = program_hint(request)
    result = kb.ask(text, program_hint=hint, previous_entry_id=ctx.memory.get(MEMORY_LAST_ENTRY))
    if result.band == "answer" and result.needs_program_choice and not hint and not ctx.flow:
        # Two programmes answer differently: ask which (one tap). Mid-flow the buttons would
        # sit under the re-asked question, so there the engine's both-labelled answer is shown.
        return _ask_program(ctx, text)
    if result.band == "answer":
        return _answer(ctx, result)
    if result.band == "suggest" and result.suggestions:
        return _suggest(ctx, text, result, hint)
    return _fallback(request, text, result, hint)


def _answer(ctx: fw.Context, result) -> fw.Turn:
    sources = list(dict.fromkeys(readable_source(s) for s in result.sources))
    body = result.answer.strip()
    if sources:
        body += "\n\n" + t("faq.source_line", source="；".join(sources))
    related = [r["question"] for r in result.related][:3]
    replies = [Text(body, tuple(_question_choice(q) for q in related))]
    ctx = ctx.remember(**{MEMORY_LAST_ENTRY: result.entry_id}).forget(MEMORY_PENDING)
    return fw.Turn(ctx, replies)


def _suggest(ctx: fw.Context, text: str, result, hint: str | None) -> fw.Turn:
    choices = [_question_choice(s["question"]) for s in result.suggestions[:3]]
    choices.append(Choice(label=t("faq.suggest_none"), text=t("faq.suggest_none")))
    pending = {"q": text[:PENDING_MAX_CHARS], "hint": hint, "score": round(result.score, 4),
               "candidates": [{"entry_id": s["entry_id"], "question": s["question"]} for s in result.suggestions[:3]]}
    lines = [t("faq.suggest_intro")] + [f"・{s['question']}" for s in result.suggestions[:3]]
    return fw.Turn(ctx.remember(**{MEMORY_PENDING: pending}), [Text("\n".join(lines), tuple(choices))])


def _fallback(request, text: str, result, hint: str | None) -> fw.Turn:
    kb = request.services.kb
    if kb is not None and not kb.has_content(text):
        # 「嗎」「？？」: nothing to hand to staff; ask for the question instead.
        return fw.Turn(request.ctx.forget(MEMORY_PENDING), [Text(t("faq.fallback_no_log"))])
    row = unanswered.log_question(request.session, line_user_id=request.ctx.user_id, question=text,
                                  candidates=unanswered.candidates_of(result), score=result.score,
                                  program_hint=hint, reason="fallback")
    return fw.Turn(request.ctx.forget(MEMORY_PENDING), [Text(t("faq.fallback", id=row.id))])


def _ask_program(ctx: fw.Context, text: str) -> fw.Turn:
    pending = {"q": text[:PENDING_MAX_CHARS]}
    choices = tuple(Choice(label=t(key), data=_program_postback(pid)) for pid, key in PROGRAM_CHOICES)
    return fw.Turn(ctx.remember(**{MEMORY_PENDING: pending}), [Text(t("faq.choose_program"), choices)])


def _program_postback(program: str) -> str:
    return encode_postback(c="faq_program", arg=program)


set_free_text_handler(answer_free_text)


@command("staff_handoff", "找專人", "真人", "真人客服", "客服", "聯絡承辦", "找承辦", "專人", "人工客服")
def ask_for_a_person(request) -> fw.Turn:
    """「找專人」: the next message goes to staff as a question; the answer comes back by push."""
    return fw.Turn(request.ctx.remember(**{MEMORY_HANDOFF: True}), [Text(t("faq.handoff_prompt"))])


# --- commands --------------------------------------------------------------------------------------
@command("faq_program")
def pick_program(request) -> fw.Turn:
    """Tap on 數位共好 / 數位群聚 after an ambiguous question: answer it for that programme."""
    ctx = request.ctx
    program = request.argument if request.argument in KNOWN_PROGRAMS else None
    pending = ctx.memory.get(MEMORY_PENDING) or {}
    if not program or not pending.get("q"):
        return fw.Turn(ctx, [Text(t("faq.choose_program_none"))])
    kb = request.services.kb
    result = kb.ask(pending["q"], program_hint=program)
    ctx = ctx.remember(**{MEMORY_PROGRAM: program})
    if result.band == "answer":
        return _answer(ctx, result)
    request.ctx = ctx
    if result.band == "suggest" and result.suggestions:
        return _suggest(ctx, pending["q"], result, program)
    return _fallback(request, pending["q"], result, program)


@command("faq_to_staff", "都不是，請專人回覆", "都不是請專人回覆", "都不是")
def declined_suggestions(request) -> fw.Turn:
    """「都不是，請專人回覆」: the owner's question goes to staff."""
    ctx = request.ctx
    pending = ctx.memory.get(MEMORY_PENDING) or {}
    if not pending.get("q"):
        return fw.Turn(ctx, [Text(t("faq.declined_nothing"))])
    row = unanswered.log_question(request.session, line_user_id=ctx.user_id, question=pending["q"],
                                  candidates=pending.get("candidates"), score=pending.get("score") or 0.0,
                                  program_hint=pending.get("hint"), reason="declined")
    return fw.Turn(ctx.forget(MEMORY_PENDING), [Text(t("faq.declined_logged", id=row.id))])


@command("faq_staff_reply", "/回覆", "／回覆", role="staff", prefix=True)
def staff_reply(request) -> fw.Turn:
    """「/回覆 12 答案」: answer an unanswered question; the asker gets it by push.
    「/回覆」 alone lists the open ones."""
    ctx = request.ctx
    argument = request.argument.strip()
    if not argument:
        rows = unanswered.list_questions(request.session, limit=10)
        if not rows:
            return fw.Turn(ctx, [Text(t("faq.staff_reply_list_empty"))])
        items = "\n".join(t("faq.staff_reply_item", id=r.id, question=r.question[:60]) for r in rows)
        return fw.Turn(ctx, [Text(t("faq.staff_reply_list", items=items))])
    parsed = unanswered.parse_reply_argument(argument)
    if parsed is None or not parsed[1]:
        return fw.Turn(ctx, [Text(t("faq.staff_reply_usage"))])
    question_id, answer = parsed
    try:
        outcome = unanswered.answer_question(request.session, question_id=question_id, answer=answer,
                                             answered_by=ctx.user_id, kb=request.services.kb)
    except unanswered.UnansweredError as exc:
        return fw.Turn(ctx, [Text(t("faq.staff_reply_failed", id=question_id, reason=str(exc)))])
    key = "faq.staff_reply_done" if outcome.row.line_user_id else "faq.staff_reply_done_no_push"
    return fw.Turn(ctx, [Text(t(key, id=question_id))])


@command("faq_staff_add", "/加入題庫", "／加入題庫", role="staff", prefix=True)
def staff_add_phrasing(request) -> fw.Turn:
    """「/加入題庫 12 gh-employees-limit」: the question of #12 becomes a phrasing of that entry."""
    ctx = request.ctx
    parts = request.argument.split()
    parsed = unanswered.parse_reply_argument(parts[0]) if parts else None
    if parsed is None or len(parts) != 2:
        return fw.Turn(ctx, [Text(t("faq.staff_add_usage"))])
    question_id, entry_id = parsed[0], parts[1].strip()
    row = request.session.get(unanswered.UnansweredQuestion, question_id)
    kb = request.services.kb
    if row is None or kb is None or kb.entry(entry_id) is None:
        return fw.Turn(ctx, [Text(t("faq.staff_add_failed", reason=f"#{question_id} / {entry_id}"))])
    from . import editing

    try:
        editing.add_phrasing(entries_dir=kb.entries_dir, entry_id=entry_id, phrasing=row.question,
                             reload=lambda: kb.reload(strict=True))
    except editing.EditError as exc:
        return fw.Turn(ctx, [Text(t("faq.staff_add_failed", reason=str(exc)))])
    row.added_to_entry = entry_id
    request.session.add(row)
    return fw.Turn(ctx, [Text(t("faq.staff_add_done", id=question_id, entry=entry_id))])
