"""The FAQ in chat: free text that is not a command nor an answer to a pending question.

Bands (knowledge.calibration): a confident answer shows the answer, a 「來源：…」 line and 2–3
related questions as quick replies; the middle band asks 「你是想問…？」 with the top 3 plus
「都不是，請專人回覆」; below that the bot says it does not know, logs the question and tells
staff. Staff answer with 「/回覆 ID 內容」 and can teach the KB with 「/加入題庫 ID 題目代碼」.
"""
from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

import yaml

from bot.messages import Card, Carousel, Choice, Text, encode_postback
from bot.texts import t
from companies.service import latest_company_of_user
from dialogs import framework as fw
from dialogs.parsing import detail_kind
from dialogs.registry import command, set_free_text_handler

from . import unanswered
from .joining import eligibility_facts
from .loader import ALLOWED_PROGRAMS, AUDIENCES
from .normalize import normalize_text
from .query import side_of

log = logging.getLogger(__name__)

MEMORY_LAST_ENTRY = "faq_last_entry"   # previous answered entry: follow-ups (「那共融呢？」)
MEMORY_PENDING = "faq_pending"         # the question behind a 「你是想問…？」 / programme choice
MEMORY_PROGRAM = "faq_program"         # programme the owner picked for an ambiguous question
MEMORY_HANDOFF = "handoff"             # 「找專人」: the next message is a question for staff
PENDING_MAX_CHARS = 500
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


# Section numbers (叁, 附件一, 第二部分, (三), 2.) are the documents' internals: owners read the titles.
_SECTION_CODE = re.compile(r"^(?:[壹貳參叁肆伍陸柒捌玖拾]+|附件[一二三四五六七八九十]+|第[一二三四五六七八九十]部分"
                           r"|[一二三四五六七八九十]+|[(（][一二三四五六七八九十\d]+[)）]|\d+(?:\.\d+)*[.、]?)[、.]?$")


_SECTION_PREFIX = re.compile(r"^(?:[壹貳參叁肆伍陸柒捌玖拾]+|附件[一二三四五六七八九十]+|[一二三四五六七八九十]+)[、：:]")


def readable_source(source: str) -> str:
    """「002 叁 輔導對象」 -> 「112年數位共好計畫提案作業規範 輔導對象」."""
    name, section = _readable_parts(source)
    return f"{name} {section}".strip()


def _readable_parts(source: str) -> tuple[str, str]:
    """(the document's name, the section's title without its number)."""
    number, _, section = source.partition(" ")
    key = "doc_staff" if number == "承辦回覆" else f"doc_{number}"
    try:
        name = t(f"faq.{key}")
    except KeyError:
        return source, ""
    if number == "承辦回覆":
        return name, ""
    return name, " ".join(_SECTION_PREFIX.sub("", w) for w in section.split() if not _SECTION_CODE.match(w))


def source_line(sources: list[str]) -> str:
    """「<document> <section>、<section>；<other document> <section>」: each document named once."""
    by_document: dict[str, list[str]] = {}
    for source in sources:
        name, section = _readable_parts(source)
        sections = by_document.setdefault(name, [])
        if section and section not in sections:
            sections.append(section)
    return "；".join(f"{name} {'、'.join(sections)}".strip() for name, sections in by_document.items())


def _question_choice(question: str) -> Choice:
    # A message action: tapping "says" the question, which the FAQ then answers.
    return Choice(label=question, text=question)


def role_of(ctx: fw.Context) -> str:
    """The asker's role for the FAQ (RoleGrant): staff answers are the proposing unit's."""
    return "staff" if "staff" in ctx.roles else "advisor" if "advisor" in ctx.roles else "owner"


# --- the free-text handler ---------------------------------------------------------------------------
def answer_free_text(request) -> fw.Turn:
    ctx = request.ctx
    text = request.input.text if request.input.kind == "text" else request.input.answer_text
    kb = request.services.kb
    if kb is None or not text.strip():
        return fw.Turn(ctx, [Text(t("core.menu_prompt"))], show_menu=True)
    if fw.nav_of(request.input) in (fw.Nav.BACK, fw.Nav.CANCEL, fw.Nav.RESTART):
        # 「上一步」「取消」 with no conversation in progress: say so (not an FAQ match, not a ticket);
        # after 「找專人」 it withdraws the request for a human.
        key = "faq.handoff_cancelled" if ctx.memory.get(MEMORY_HANDOFF) else "core.nav_idle"
        return fw.Turn(ctx.forget(MEMORY_HANDOFF, MEMORY_PENDING), [Text(t(key))], show_menu=True)
    if ctx.memory.get(MEMORY_HANDOFF):
        # 「謝謝」「好」「？？」 right after 「找專人」 is not the question for staff: answer it and keep
        # waiting for the question (no ticket, no staff alert).
        reply = kb.small_talk_reply(text) or (t("faq.fallback_no_log") if kb.not_a_question(text) else None)
        if reply:
            return fw.Turn(ctx, [Text(reply), Text(t("faq.handoff_still_waiting"))])
        # Otherwise this text is their question for staff.
        request.ctx = ctx.forget(MEMORY_HANDOFF)
        row = unanswered.log_question(request.session, line_user_id=ctx.user_id, question=text, reason="handoff")
        return fw.Turn(request.ctx, [Text(t("faq.handoff_logged", id=row.id))], show_menu=True)
    detail = detail_kind(text)
    if detail is not None:
        # A phone number, an e-mail, a 統編 or an address on its own is a detail to leave, not a
        # question for the FAQ or staff: say where details are given and changed.
        return fw.Turn(ctx.forget(MEMORY_PENDING), [Text(t("faq.detail_alone", what=t(f"faq.detail_{detail}")), (
            Choice(label=t("core.menu_letter"), text=t("core.menu_letter")),
            Choice(label=t("privacy.btn_correct"), text=t("privacy.btn_correct"))))])
    hint = program_hint(request)
    result = kb.ask(text, program_hint=hint, previous_entry_id=ctx.memory.get(MEMORY_LAST_ENTRY), role=role_of(ctx))
    if result.intent == "small_talk:introduction":
        # 「你好 我是賣便當的」「我開早餐店」: someone introducing themselves has not asked anything yet;
        # not a question for staff, nor an off-topic message, nor an entry sharing its words.
        return _introduction(request, text)
    if result.band == "small_talk":
        # Someone lost (「？？」) gets the menu as the way in; thanks and greetings need none.
        return fw.Turn(ctx, [Text(result.answer)], show_menu=result.intent == "small_talk:lost")
    if result.band == "declined":
        # Weather, a tax return…: not the programme's; no ticket for staff.
        return fw.Turn(ctx.forget(MEMORY_PENDING), [Text(result.answer)], show_menu=True)
    if result.band == "not_stated":
        return _not_stated(ctx, text, result, hint)
    offer = _flow_offer(request, text, result)
    ctx = request.ctx  # the offer may have remembered what to prefill
    if offer is not None and offer[1] in OWN_DETAILS_FLOWS:
        return fw.Turn(ctx.forget(MEMORY_PENDING), [Text(t(f"faq.flow_offer_{offer[1]}"), (offer[0],))])
    if result.band == "answer":
        return _answer(ctx, result, offer)
    if offer is not None:
        # No confident answer, but the message asks for something a conversation does
        # (「我開雞排攤 老婆幫忙 可以報嗎」): lead there instead of handing it to staff.
        choice, flow = offer
        if flow == "eligibility":
            prefill = ctx.memory.get(MEMORY_FLOW_PREFILL, {}).get("data") or None
            return fw.Turn(ctx.forget(MEMORY_PENDING, MEMORY_FLOW_PREFILL), [Text(t("faq.flow_start_eligibility"))],
                           start_flow=fw.FlowId.ELIGIBILITY.value, prefill=prefill)
        return fw.Turn(ctx.forget(MEMORY_PENDING), [Text(t(f"faq.flow_offer_{flow}"), (choice,))])
    shop = _assigned_shop(request, text)
    if shop is not None:
        # 「阿明咖啡館有在用POS嗎」 from the shop's advisor asks about that shop, not the programme:
        # its standing is one tap away (「我的店家進度 阿明咖啡館」), not a question for staff.
        word = f"{t('faq.offer_shop_progress_word')} {shop}"
        return fw.Turn(ctx.forget(MEMORY_PENDING), [Text(t("faq.flow_offer_shop", name=shop), (
            Choice(label=t("faq.offer_shop_progress"), text=word),))])
    if result.band == "suggest" and result.suggestions:
        return _suggest(ctx, text, result, hint)
    return _fallback(request, text, result, hint)


def _assigned_shop(request, text: str) -> str | None:
    """The name of the advisor's own shop the message names, if the asker is an advisor."""
    if "advisor" not in request.ctx.roles:
        return None
    from visits.service import assigned_shop_named

    company = assigned_shop_named(request.session, advisor=request.ctx.user_id, text=text)
    return (company.name or None) if company is not None else None


# Conversations a question can lead to: (intent in knowledge/intents.yaml flows) -> the chat
# words that start them. Eligibility takes a postback instead, to carry what was already said.
FLOW_WORDS = {"letter": "core.menu_letter", "my_data": "core.menu_my_data", "reminders": "core.menu_reminders",
              "visits": "core.menu_reminders", "correct": "privacy.btn_correct",
              "activities": "activities.my_activities_word", "letter_withdraw": "letters.menu_withdraw",
              "letter_correct": "letters.menu_correct"}
# Asking to change one's own details is never a programme question: the offer wins over any answer.
OWN_DETAILS_FLOWS = frozenset({"correct"})
MEMORY_FLOW_PREFILL = "faq_flow_prefill"
_TEXT_KEYS = {f"faq.counterpart_line_{side}" for side in AUDIENCES}


def _flow_offer(request, text: str, result) -> tuple[Choice, str] | None:
    """The button to the conversation the message asks for, if any (the first intent wins)."""
    for flow in result.flows:
        if flow == "eligibility":
            if "staff" in request.ctx.roles or "advisor" in request.ctx.roles:
                continue  # staff ask about the rules, not about their own shop
            request.ctx = request.ctx.remember(**{MEMORY_FLOW_PREFILL: {"flow": flow, "data": eligibility_facts(text)}})
            return Choice(label=t("faq.offer_eligibility"), data=encode_postback(c="faq_flow", arg=flow)), flow
        if flow in FLOW_WORDS:
            word = t(FLOW_WORDS[flow])
            return Choice(label=word, text=word), flow
    return None


def _introduction(request, text: str) -> fw.Turn:
    """A greeting back and the way in: a new owner gets the eligibility check (with a headcount they
    mentioned filled in) and the FAQ topics; an owner whose shop is on record gets the menu; staff
    and advisors are asked for their question."""
    ctx = request.ctx.forget(MEMORY_PENDING)
    if role_of(ctx) != "owner":
        return fw.Turn(ctx, [Text(t("faq.introduction_team"))])
    if latest_company_of_user(request.session, line_user_id=ctx.user_id) is not None:
        # A shop already on record does not need the eligibility check offered again.
        return fw.Turn(ctx, [Text(t("faq.introduction_member"))], show_menu=True)
    ctx = ctx.remember(**{MEMORY_FLOW_PREFILL: {"flow": "eligibility", "data": eligibility_facts(text)}})
    choices = (Choice(label=t("faq.offer_eligibility"), data=encode_postback(c="faq_flow", arg="eligibility")),
               Choice(label=t("core.menu_faq"), text=t("core.menu_faq")))
    return fw.Turn(ctx, [Text(t("faq.introduction"), choices)])


def _answer(ctx: fw.Context, result, offer: tuple[Choice, str] | None = None) -> fw.Turn:
    sources = source_line(result.sources)
    body = result.answer.strip()
    if sources:
        body += "\n\n" + t("faq.source_line", source=sources)
    choices = [offer[0]] if offer else []
    counterpart = result.counterpart
    if counterpart:
        # The other side's view of the same topic (the unit's budget tier -> what the shop gets).
        key = f"faq.counterpart_line_{counterpart.get('audience')}" if counterpart.get("audience") else ""
        key = key if key in _TEXT_KEYS else "faq.counterpart_line"
        body += "\n" + t(key, question=counterpart["question"])
        choices.append(_question_choice(counterpart["question"]))
    related = [r["question"] for r in result.related if not counterpart or r["entry_id"] != counterpart["entry_id"]]
    choices += [_question_choice(q) for q in related[:max(0, (4 if offer else 3) - len(choices))]]
    replies = [Text(body, tuple(choices))]
    ctx = ctx.remember(**{MEMORY_LAST_ENTRY: result.entry_id}).forget(MEMORY_PENDING)
    return fw.Turn(ctx, replies)


def _not_stated(ctx: fw.Context, text: str, result, hint: str | None) -> fw.Turn:
    """The documents do not say (a shop's penalty, a pass mark): what they do say, with its source,
    and a button to ask staff. No ticket unless the person asks: the answer is all the documents
    hold, and most such questions are settled by it; the unit's own arrangements (a date, a
    place) are what staff add, when the person wants them."""
    body = result.answer.strip()
    sources = source_line(result.sources)
    if sources:
        body += "\n\n" + t("faq.source_line", source=sources)
    choices = [Choice(label=t("faq.not_stated_staff"), text=t("faq.not_stated_staff"))]
    choices += [_question_choice(r["question"]) for r in result.related[:2]]
    pending = {"q": text[:PENDING_MAX_CHARS], "hint": hint, "score": round(result.score, 4),
               "candidates": [{"entry_id": result.entry_id, "question": ""}]}
    return fw.Turn(ctx.remember(**{MEMORY_PENDING: pending}).forget(MEMORY_LAST_ENTRY), [Text(body, tuple(choices))])


def _suggest(ctx: fw.Context, text: str, result, hint: str | None) -> fw.Turn:
    choices = [_question_choice(s["question"]) for s in result.suggestions[:3]]
    choices.append(Choice(label=t("faq.suggest_none"), text=t("faq.suggest_none")))
    pending = {"q": text[:PENDING_MAX_CHARS], "hint": hint, "score": round(result.score, 4),
               "candidates": [{"entry_id": s["entry_id"], "question": s["question"]} for s in result.suggestions[:3]]}
    lines = [t("faq.suggest_intro")] + [f"・{s['question']}" for s in result.suggestions[:3]]
    return fw.Turn(ctx.remember(**{MEMORY_PENDING: pending}), [Text("\n".join(lines), tuple(choices))])


def _fallback(request, text: str, result, hint: str | None) -> fw.Turn:
    kb = request.services.kb
    why = kb.not_a_question(text) if kb is not None else None
    if why == "empty":
        # 「嗎」「？？」: nothing to hand to staff; ask for the question instead.
        return fw.Turn(request.ctx.forget(MEMORY_PENDING), [Text(t("faq.fallback_no_log"))])
    if why == "noise":
        return fw.Turn(request.ctx.forget(MEMORY_PENDING), [Text(t("faq.not_understood"))], show_menu=True)
    row = unanswered.log_question(request.session, line_user_id=request.ctx.user_id, question=text,
                                  candidates=unanswered.candidates_of(result), score=result.score,
                                  program_hint=hint, reason="fallback")
    return fw.Turn(request.ctx.forget(MEMORY_PENDING), [Text(t("faq.fallback", id=row.id))])


set_free_text_handler(answer_free_text)


@command("staff_handoff", "找專人", "真人", "真人客服", "客服", "聯絡承辦", "找承辦", "專人", "人工客服")
def ask_for_a_person(request) -> fw.Turn:
    """「找專人」: the next message goes to staff as a question; the answer comes back by push."""
    return fw.Turn(request.ctx.remember(**{MEMORY_HANDOFF: True}), [Text(t("faq.handoff_prompt"))])


# --- 「常見問題」: the top questions by topic -----------------------------------------------------------
TOPICS_FILE = Path(__file__).resolve().parent / "topics.yaml"
MAX_TOPIC_QUESTIONS = 4  # buttons that fit a card on a phone


@functools.cache
def faq_topics() -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """topics.yaml: per side, (title, questions) cards."""
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8")) or {}
    return {side: tuple((str(topic["title"]), tuple(str(q) for q in topic.get("questions") or ())[:MAX_TOPIC_QUESTIONS])
                        for topic in data.get(side) or ())
            for side in AUDIENCES}


@command("faq", "常見問題", "問問題", "faq", "有哪些問題", "常見問答", "qa", "q&a")
def faq_intro(request) -> fw.Turn:
    """Topic cards with their top questions as buttons (the asker's side), then 「直接打字問」."""
    side = side_of(role_of(request.ctx))
    topics = faq_topics().get(side) or faq_topics().get("owner") or ()
    cards = tuple(Card(title=title, buttons=tuple(_question_choice(q) for q in questions))
                  for title, questions in topics if questions)
    replies: list = [Text(t("faq.topics_intro"))]
    if cards:
        replies.append(Carousel(cards=cards, alt_text=t("faq.topics_alt")))
    return fw.Turn(request.ctx, replies)


# --- commands --------------------------------------------------------------------------------------
@command("faq_flow")
def start_offered_flow(request) -> fw.Turn:
    """The button under an answer (「幫我檢查資格」): start that conversation with what the
    person already said filled in."""
    ctx = request.ctx
    offered = ctx.memory.get(MEMORY_FLOW_PREFILL) or {}
    if request.argument != "eligibility":
        return fw.Turn(ctx, [Text(t("core.button_expired_no_flow"))], show_menu=True)
    prefill = offered.get("data") if offered.get("flow") == request.argument else None
    return fw.Turn(ctx.forget(MEMORY_FLOW_PREFILL), [], start_flow=fw.FlowId.ELIGIBILITY.value,
                   prefill=prefill or None)


@command("faq_program")
def pick_program(request) -> fw.Turn:
    """Tap on 數位共好 / 數位群聚 after an ambiguous question: answer it for that programme."""
    ctx = request.ctx
    program = request.argument if request.argument in KNOWN_PROGRAMS else None
    pending = ctx.memory.get(MEMORY_PENDING) or {}
    if not program or not pending.get("q"):
        return fw.Turn(ctx, [Text(t("faq.choose_program_none"))])
    kb = request.services.kb
    result = kb.ask(pending["q"], program_hint=program, role=role_of(ctx))
    ctx = ctx.remember(**{MEMORY_PROGRAM: program})
    if result.band == "answer":
        return _answer(ctx, result)
    request.ctx = ctx
    if result.band == "suggest" and result.suggestions:
        return _suggest(ctx, pending["q"], result, program)
    return _fallback(request, pending["q"], result, program)


@command("faq_to_staff", "都不是，請專人回覆", "都不是請專人回覆", "都不是", "請承辦同仁回覆")
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


@command("faq_staff_reply", "/回覆", "／回覆", "/待回覆", "／待回覆", role="staff", prefix=True)
def staff_reply(request) -> fw.Turn:
    """「/回覆 12 答案」: answer an unanswered question; the asker gets it by push.
    「/回覆」 alone lists the open ones."""
    ctx = request.ctx
    argument = request.argument.strip()
    if not argument:
        rows = unanswered.list_questions(request.session, limit=10)
        if not rows:
            return fw.Turn(ctx, [Text(t("faq.staff_reply_list_empty"))])
        who = unanswered.askers(request.session, user_ids=[r.line_user_id for r in rows])
        items = "\n".join(t("faq.staff_reply_item_who", id=r.id, question=r.question[:60],
                             who=who.get(r.line_user_id or "") or t("faq.asker_unknown")) for r in rows)
        return fw.Turn(ctx, [Text(t("faq.staff_reply_list", items=items))])
    parsed = unanswered.parse_reply_argument(argument)
    if parsed is None or not parsed[1]:
        return fw.Turn(ctx, [Text(t("faq.staff_reply_usage"))])
    question_id, answer = parsed
    try:
        outcome = unanswered.answer_question(request.session, question_id=question_id, answer=answer,
                                             answered_by=ctx.user_id, kb=request.services.kb)
    except unanswered.UnansweredError as exc:
        return fw.Turn(ctx, [Text(t("faq.staff_reply_failed", id=question_id, reason=t(f"faq.staff_error_{exc.code}")))])
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
        code = "not_found" if row is None else "no_kb" if kb is None else "unknown_entry"
        return fw.Turn(ctx, [Text(t("faq.staff_add_failed", reason=t(f"faq.staff_error_{code}")))])
    from . import editing

    try:
        editing.add_phrasing(entries_dir=kb.entries_dir, entry_id=entry_id, phrasing=row.question,
                             reload=lambda: kb.reload(strict=True))
    except editing.EditError as exc:
        log.info("add phrasing refused: %s", exc)
        return fw.Turn(ctx, [Text(t("faq.staff_add_failed", reason=t("faq.staff_error_edit_refused")))])
    row.added_to_entry = entry_id
    request.session.add(row)
    return fw.Turn(ctx, [Text(t("faq.staff_add_done", id=question_id, entry=entry_id))])
