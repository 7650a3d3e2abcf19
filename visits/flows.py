"""Advisors log visits in chat (FlowId.VISIT_LOG).

* One message is enough: an advisor's free text that names one of their companies together with a
  mode or a date (「今天線上輔導 好味道小吃 導入LINE官方帳號」), or starts with 訪視, is parsed
  (visits.parse); whatever is missing or ambiguous is asked with quick replies; a complete record
  is saved at once and shown as a card with 修改 / 刪除 (24 hours).
* 「登錄訪視」 asks everything step by step.
* After saving, the conversation waits in the "photos" step: images sent now are fetched from
  LINE's content endpoint and attached; 「完成」 ends it.
* 「我的進度」 shows the advisor's companies against the visit rule (programs.yaml visit_rules).
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, time

from bot.messages import Card, Choice, Text, encode_postback
from bot.texts import t
from bot.timeutil import format_roc_date, format_roc_datetime, to_taipei
from dialogs import framework as fw
from dialogs import registry
from dialogs.parsing import parse_time
from letters.document import campaign_settings
from visits import parse as vp
from visits import service
from visits.company_step import company_name as _company_name
from visits.company_step import company_refs, company_step, shops_named

# --- small helpers -------------------------------------------------------------------------

def _today(ctx: fw.Context) -> date:
    return to_taipei(ctx.now).date()




def duration_text(minutes: int | None) -> str:
    if not minutes:
        return t("visits.no_time")
    if minutes % 30 == 0 and minutes >= 60:
        hours = minutes / 60
        return t("visits.duration_hours", hours=f"{hours:g}")
    return t("visits.duration_minutes", minutes=minutes)


def _date_text(value: str | None) -> str:
    return format_roc_date(date.fromisoformat(value)) if value else t("visits.no_time")


# --- steps ---------------------------------------------------------------------------------

def _ask_date(ctx: fw.Context):
    today = _today(ctx)
    return [Text(t("visits.ask_date"), (
        ctx.choice(t("visits.date_today"), "今天"), ctx.choice(t("visits.date_yesterday"), "昨天"),
        ctx.choice(t("visits.date_before_yesterday"), "前天"),
        ctx.picker(t("visits.date_pick"), "date", initial=today.isoformat(), max=today.isoformat()),
        Choice(t("core.nav_cancel")),
    ))]


def _parse_date(ctx: fw.Context, user_input: fw.UserInput) -> str:
    found, future = vp.resolve_visit_date(user_input.answer_text, today=_today(ctx))
    if found is None:
        raise fw.Invalid(t("visits.date_invalid"))
    if future:
        raise fw.Invalid(t("visits.date_future"), looks_like_question=False)
    return found.isoformat()


def _ask_time(ctx: fw.Context):
    return [Text(t("visits.ask_time"), (
        ctx.choice(t("visits.time_skip"), ""), ctx.picker(t("visits.time_pick"), "time", initial="14:00"),
        ctx.choice("09:00", "09:00"), ctx.choice("10:00", "10:00"), ctx.choice("14:00", "14:00"),
        ctx.choice("16:00", "16:00"), Choice(t("core.nav_back")), Choice(t("core.nav_cancel")),
    ))]


def _parse_time(ctx: fw.Context, user_input: fw.UserInput) -> str:
    answer = user_input.answer_text.strip()
    if answer in ("", t("visits.time_skip"), "不確定", "不記得", "skip"):
        return ""
    found = parse_time(answer)
    if found is None:
        raise fw.Invalid(t("visits.time_invalid"))
    return found.strftime("%H:%M")


def _ask_mode(ctx: fw.Context):
    return [Text(t("visits.ask_mode"), tuple(ctx.choice(service.mode_label(m), m) for m in service.MODES))]


def _parse_mode(ctx: fw.Context, user_input: fw.UserInput) -> str:
    answer = user_input.answer_text.strip()
    if answer in service.MODES:
        return answer
    mode = vp.parse_mode(answer)
    if mode is None:
        raise fw.Invalid(t("visits.mode_invalid"))
    return mode


def _ask_duration(ctx: fw.Context):
    options = ((30, "30分鐘"), (60, "1小時"), (90, "1.5小時"), (120, "2小時"), (180, "3小時"))
    return [Text(t("visits.ask_duration"), (*(ctx.choice(label, str(m)) for m, label in options),
                                             Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


def _parse_duration(ctx: fw.Context, user_input: fw.UserInput) -> int:
    answer = user_input.answer_text.strip()
    if user_input.kind == "postback" and answer.isdigit():
        return int(answer)
    minutes = vp.parse_duration(answer)
    if minutes is None and re.fullmatch(r"\d+(\.\d+)?", answer):
        value = float(answer)
        minutes = int(value * 60) if value <= 8 else int(value)  # "1.5" hours, "90" minutes
    if not minutes or not vp.DURATION_RANGE[0] <= minutes <= vp.DURATION_RANGE[1]:
        raise fw.Invalid(t("visits.duration_invalid"))
    return minutes


def _ask_topics(ctx: fw.Context):
    suggestions = [s for s in t("visits.topics_suggestions").split("|") if s][:10]
    return [Text(t("visits.ask_topics"), (*(Choice(s) for s in suggestions), Choice(t("core.nav_back")),
                                           Choice(t("core.nav_cancel"))))]


def _parse_topics(ctx: fw.Context, user_input: fw.UserInput) -> str:
    answer = " ".join(user_input.answer_text.split())
    if len(answer) < 2:
        raise fw.Invalid(t("visits.topics_invalid"))
    return answer[:500]


def _ask_notes(ctx: fw.Context):
    return [Text(t("visits.ask_notes"), (ctx.choice(t("visits.notes_skip"), ""), Choice(t("core.nav_cancel"))))]


def _parse_notes(ctx: fw.Context, user_input: fw.UserInput) -> str:
    answer = user_input.answer_text.strip()
    return "" if answer == t("visits.notes_skip") else answer[:2000]


DONE_WORDS = {"完成", "好了", "沒有", "沒有了", "不用", "不用了", "ok", "好", "結束", "謝謝", "沒照片"}


def _ask_photos(ctx: fw.Context):
    return [_photo_prompt(ctx)]


def _photo_prompt(ctx: fw.Context, text: str | None = None) -> Text:
    """The photo question; when the message named more shops, it offers the same visit for each."""
    others = [_company_name(ctx, other) for other in ctx.data.get("_others", [])]
    lines = [text or t("visits.photo_prompt")]
    if others:
        lines.append(t("visits.also_prompt", companies="、".join(others)))
    return Text("\n".join(lines), _photo_quick_replies(ctx))


def _photo_quick_replies(ctx: fw.Context) -> tuple:
    # After a visit the advisor may record that the company started using a tool (adoption/).
    from adoption.flows import visit_card_choice

    adoption = (visit_card_choice(ctx.data["_company_id"]),) if ctx.data.get("_company_id") else ()
    also = tuple(ctx.choice(t("visits.also_button", company=_company_name(ctx, other))[:20], f"also:{other}",
                            step="photos") for other in ctx.data.get("_others", [])[:3])
    return (*also, ctx.choice(t("visits.photo_done_button"), "done", step="photos"),
            ctx.choice(t("visits.button_edit"), "edit", step="photos"),
            ctx.choice(t("visits.button_delete"), "delete", step="photos"),
            *adoption, Choice(label="📷", kind="camera"), Choice(label="🖼", kind="cameraRoll"))


def _also_for(ctx: fw.Context, user_input: fw.UserInput) -> int | None:
    """The other shop named in the message that the advisor logs the same visit for: the button's
    words only (「也記 小花花店」, tapped or typed); a bare 「好」 is the end of this visit, not another."""
    others = ctx.data.get("_others") or []
    answer = user_input.answer_text.strip()
    if answer.startswith("also:") and answer[5:].isdigit() and int(answer[5:]) in others:
        return int(answer[5:])
    squashed = fw.squash(answer)
    typed = squashed.removeprefix("也記").removeprefix("也要記")
    if typed == squashed or not typed:
        return None
    found = vp.match_companies(typed, [ref for ref in company_refs(ctx) if ref.id in others])
    return found[0] if len(found) == 1 else None


def _parse_photos(ctx: fw.Context, user_input: fw.UserInput):
    if user_input.kind == "image" and user_input.message_id:
        return {"photo": user_input.message_id}
    also = _also_for(ctx, user_input)
    if also is not None:
        return {"also": also}
    answer = fw.squash(user_input.answer_text)
    if answer in ("done",) or answer in DONE_WORDS:
        return "done"
    if answer in ("edit", "修改", "修改紀錄", "改"):
        return {"act": "edit"}
    if answer in ("delete", "刪除", "刪除紀錄", "刪掉"):
        return {"act": "delete"}
    if user_input.kind == "text" and looks_like_visit(user_input.text):
        # The next visit typed right away: this record is complete, log the new one.
        return {"next_visit": user_input.text}
    raise fw.Invalid(t("visits.photo_step_invalid"))


def _store_photos(ctx: fw.Context, value):
    if isinstance(value, dict) and "photo" in value:
        pending = [*ctx.data.get("_pending_photos", []), value["photo"]]
        return ctx.evolve(data={**ctx.data, "_pending_photos": pending})
    if isinstance(value, dict) and "act" in value:
        return ctx.evolve(data={**ctx.data, "_act": value["act"]})
    if isinstance(value, dict) and "next_visit" in value:
        return ctx.evolve(data={**ctx.data, "photos": "done", "_next_visit": value["next_visit"]})
    if isinstance(value, dict) and "also" in value:
        return ctx.evolve(data={**ctx.data, "photos": "done", "_also": value["also"]})
    return ctx.evolve(data={**ctx.data, "photos": "done"})


def _is_saved(ctx: fw.Context) -> bool:
    return "_saved_id" in ctx.data


def _is_editing(ctx: fw.Context) -> bool:
    return "_edit_id" in ctx.data


_WHOLE = "_whole_visit"


def _whole_visit(ctx: fw.Context, user_input: fw.UserInput, step: str = "") -> dict | None:
    """A whole visit typed while a question waits (「115/3/2 現地 好味道小吃 盤點 1小時」 at 「輔導多久？」,
    「昨天 現地 2小時」 at 「哪一天？」): its answers, or None. It names a shop and one more piece, or
    two pieces; read as the question's answer, its 「1小時」 would finish the visit on screen and lose
    the one typed, and 「現地 2小時」 would be asked for again. At 「輔導內容？」 it must name a shop or a
    date: 「電話行銷話術 30分鐘」 is what the visit was about, not a phone call."""
    if user_input.kind != "text" or _is_editing(ctx):
        return None
    parsed = vp.parse_visit_message(user_input.text, today=_today(ctx), companies=company_refs(ctx))
    if step == "topics" and not (parsed.company_ids and not parsed.guessed or parsed.visit_date
                                 or parsed.future_date or parsed.bad_date):
        return None
    pieces = sum(map(bool, (parsed.visit_date or parsed.future_date, parsed.mode, parsed.duration_minutes,
                            parsed.company_ids)))
    if pieces < 2:
        return None
    answers = parsed.as_answers()
    return {**answers, "_notes": problems(parsed)}


def problems(parsed: vp.ParsedVisit) -> list[str]:
    """Why a piece the advisor typed was not taken (it is asked again): without a word the next
    question looks like the bot ignored 「2/30」 or 「明天」, or took 「30小時」."""
    found = []
    if parsed.future_date:
        found.append(t("visits.date_future"))
    if parsed.bad_date:
        found.append(t("visits.date_not_a_day", text=parsed.bad_date))
    if parsed.bad_duration:
        shortest, longest = vp.DURATION_RANGE
        found.append(t("visits.duration_unlikely", text=parsed.bad_duration, shortest=duration_text(shortest),
                       longest=duration_text(longest)))
    return found


def _taking_whole_visits(step: fw.Step) -> fw.Step:
    """The step, also taking a whole visit typed instead of its answer (``_whole_visit``)."""
    def parse(ctx: fw.Context, user_input: fw.UserInput):
        whole = _whole_visit(ctx, user_input, step.name)
        return {_WHOLE: whole} if whole is not None else step.parse(ctx, user_input)

    def store(ctx: fw.Context, value):
        if isinstance(value, dict) and _WHOLE in value:
            return _with_whole_visit(ctx, value[_WHOLE])
        return step.store(ctx, value) if step.store else ctx.with_answer(step.name, value)

    return replace(step, parse=parse, store=store)


def _with_whole_visit(ctx: fw.Context, answers: dict) -> fw.Context:
    """The same shop: the message's answers fill in those not given yet (an answer given stays:
    「線上」 inside later words is not a change of mind). Another shop: a new visit; the one on
    screen was never saved, which the advisor is told (``_announce``)."""
    kept = {k: v for k, v in ctx.data.items() if k != "_candidates"}
    previous, named = ctx.data.get("company"), answers.get("company")
    if previous is None or named in (None, previous):
        return ctx.evolve(data={**answers, **kept})
    private = {k: v for k, v in kept.items() if k.startswith("_")}
    notes = [t("visits.previous_dropped", company=_company_name(ctx, previous)), *answers["_notes"]]
    return ctx.evolve(data={**private, **answers, "_notes": notes}, history=())


def _announce(ctx: fw.Context) -> tuple[fw.Context, list]:
    """Say what the last message changed before the next question (``_notes``), once."""
    notes = ctx.data.get("_notes")
    if not notes:
        return ctx, []
    return ctx.evolve(data={k: v for k, v in ctx.data.items() if k != "_notes"}), [Text(note) for note in notes]


_ASKED = tuple(_taking_whole_visits(step) for step in (
    company_step("visits", t("visits.label_company"), when=lambda ctx: not _is_saved(ctx)),
    fw.Step("date", t("visits.label_date"), _ask_date, _parse_date, when=lambda ctx: not _is_saved(ctx),
            display=lambda ctx, v: _date_text(v)),
    fw.Step("time", t("visits.label_time"), _ask_time, _parse_time, when=lambda ctx: not _is_saved(ctx),
            display=lambda ctx, v: v or t("visits.no_time")),
    fw.Step("mode", t("visits.label_mode"), _ask_mode, _parse_mode, when=lambda ctx: not _is_saved(ctx),
            display=lambda ctx, v: service.mode_label(v) if v in service.MODES else "—"),
    fw.Step("duration", t("visits.label_duration"), _ask_duration, _parse_duration,
            when=lambda ctx: not _is_saved(ctx), display=lambda ctx, v: duration_text(v)),
    fw.Step("topics", t("visits.label_topics"), _ask_topics, _parse_topics, when=lambda ctx: not _is_saved(ctx)),
))
STEPS = (
    *_ASKED,
    fw.Step("notes", t("visits.label_notes"), _ask_notes, _parse_notes, when=_is_editing,
            display=lambda ctx, v: v or "—"),
    fw.Step("photos", t("visits.label_photos"), _ask_photos, _parse_photos, store=_store_photos, when=_is_saved,
            accepts=frozenset({"text", "postback", "image"}), cancelled=t("visits.finished_kept")),
)


def _settled(ctx: fw.Context) -> bool:
    if _is_saved(ctx):
        return bool(ctx.data.get("_pending_photos") or ctx.data.get("_act") or "photos" in ctx.data)
    if _is_editing(ctx):
        return False  # edits end at the summary card (修改 / 確認)
    return fw.pending_step(VISIT_FLOW, ctx) is None


def _prefill(ctx: fw.Context) -> dict:
    # Set by the command that starts the flow (always, so nothing stale is reused).
    return dict(ctx.memory.get("visit_prefill") or {})


# --- finishing -----------------------------------------------------------------------------

def visit_card(visit, company_name: str, *, title: str, with_buttons: bool = True, quick=()) -> Card:
    local = to_taipei(visit.visited_at)
    when = format_roc_date(local.date()) + (f" {local:%H:%M}" if local.hour or local.minute else "")
    buttons = ()
    if with_buttons:
        buttons = (Choice(t("visits.button_edit"), data=encode_postback(c="visit_edit", arg=visit.id),
                          display=t("visits.button_edit")),
                   Choice(t("visits.button_delete"), data=encode_postback(c="visit_delete", arg=visit.id),
                          display=t("visits.button_delete")))
    rows = [(t("visits.label_company"), company_name), (t("visits.label_date"), when),
            (t("visits.label_mode"), service.mode_label(visit.mode)),
            (t("visits.label_duration"), duration_text(visit.duration_minutes)),
            (t("visits.label_topics"), visit.topics or "—")]
    if visit.notes:
        rows.append((t("visits.label_notes"), visit.notes))
    if visit.photos:
        rows.append((t("visits.label_photos"), str(len(visit.photos))))
    return Card(title=title, rows=tuple(rows), note=t("visits.card_note") if with_buttons else "",
                buttons=buttons, quick_replies=tuple(quick))


def _visited_at(ctx: fw.Context) -> datetime:
    day = date.fromisoformat(ctx.data["date"])
    at = time.fromisoformat(ctx.data["time"]) if ctx.data.get("time") else None
    return service.combine(day, at)


def _finish(request) -> fw.Turn:
    ctx = request.ctx
    session = request.session
    if _is_saved(ctx):
        return _after_save(request)
    fields = dict(company_id=int(ctx.data["company"]), visited_at=_visited_at(ctx), mode=ctx.data["mode"],
                  duration_minutes=ctx.data.get("duration"), topics=ctx.data.get("topics"))
    name = _company_name(ctx, fields["company_id"])
    if _is_editing(ctx):
        try:
            visit = service.update_visit(session, visit_id=int(ctx.data["_edit_id"]), advisor=ctx.user_id,
                                         changes={**fields, "notes": ctx.data.get("notes") or None}, now=ctx.now)
        except service.VisitError as error:
            return _refusal(ctx.cleared().forget("visit_prefill"), error)
        return fw.Turn(ctx.cleared().forget("visit_prefill"),
                       [visit_card(visit, name, title=t("visits.updated_title"))])
    visit = service.record_visit(session, advisor=ctx.user_id, **fields)
    others = [other for other in ctx.data.get("_others", []) if other != visit.company_id]
    saved = ctx.evolve(data={"_saved_id": visit.id, "_companies": ctx.data.get("_companies", []),
                             "_date": ctx.data["date"], "_company_name": name, "_company_id": visit.company_id,
                             **({"_others": others} if others else {})},
                       history=(), step="photos").forget("visit_prefill")
    return fw.Turn(saved, [visit_card(visit, name, title=t("visits.saved_title")), _photo_prompt(saved)])


def _the_same_visit_for(request, company_id: int) -> fw.Turn:
    """「也記 小花花店」: the visit just saved, logged again for another shop the message named
    (the date, mode, duration and topics as saved; any still missing is asked)."""
    from visits.models import Visit

    ctx = request.ctx
    visit = request.session.get(Visit, int(ctx.data["_saved_id"]))
    if visit is None or visit.deleted_at is not None:
        # Deleted meanwhile (the dashboard, or an erasure): nothing left to copy.
        return fw.Turn(ctx.cleared(), [Text(t("visits.also_gone", company=_company_name(ctx, company_id)))],
                       show_menu=True)
    local = to_taipei(visit.visited_at)
    answers = {"company": company_id, "date": local.date().isoformat(),
               "time": local.strftime("%H:%M") if local.hour or local.minute else "", "mode": visit.mode,
               **({"duration": visit.duration_minutes} if visit.duration_minutes else {}),
               **({"topics": visit.topics} if visit.topics else {})}
    others = [other for other in ctx.data.get("_others", []) if other != company_id]
    if others:
        answers["_others"] = others
    request.ctx = ctx.cleared()
    return _start(request, service.advisor_companies(request.session, advisor=ctx.user_id), answers)


def _after_save(request) -> fw.Turn:
    ctx = request.ctx
    if ctx.data.get("_also"):
        return _the_same_visit_for(request, int(ctx.data["_also"]))
    next_visit = ctx.data.get("_next_visit")
    if next_visit and not ctx.data.get("_pending_photos"):
        request.ctx = ctx.cleared()
        turn = log_from_message(request, next_visit)
        if turn is None:
            return fw.Turn(request.ctx, [Text(t("visits.finished"))], show_menu=True)
        return fw.Turn(turn.ctx, [Text(t("visits.finished")), *turn.replies], finish=turn.finish,
                       start_flow=turn.start_flow, show_menu=turn.show_menu)
    visit_id = int(ctx.data["_saved_id"])
    pending = ctx.data.get("_pending_photos") or []
    if pending:
        attached = 0
        for message_id in pending:
            content = request.photo_content(message_id)
            if content and service.attach_photo(request.session, visit_id=visit_id, message_id=message_id,
                                                content=content):
                attached += 1
        data = {k: v for k, v in ctx.data.items() if k != "_pending_photos"}
        ctx = ctx.evolve(data=data, step="photos")
        if not attached:
            return fw.Turn(ctx, [_photo_prompt(ctx, t("visits.photo_failed"))])
        from visits.models import Visit

        total = len(request.session.get(Visit, visit_id).photos or [])
        return fw.Turn(ctx, [_photo_prompt(ctx, t("visits.photo_attached", count=attached, total=total))])
    act = ctx.data.get("_act")
    if act == "edit":
        return _start_edit(request, visit_id, ctx.cleared())
    if act == "delete":
        return _ask_delete(request, visit_id, ctx.cleared())
    return fw.Turn(ctx.cleared(), [Text(t("visits.finished"))], show_menu=True)


VISIT_FLOW = registry.register_flow(fw.Flow(
    id=fw.FlowId.VISIT_LOG,
    title=t("visits.flow_title"),
    help=t("visits.flow_help"),
    steps=STEPS,
    finish=_finish,
    settled=_settled,
    prefill=_prefill,
    summary_title=t("visits.edit_title"),
    slow_finish=True,
    announce=_announce,
))


# --- entry points --------------------------------------------------------------------------

def _start(request, companies: list, prefill: dict, lead: list | None = None) -> fw.Turn:
    if not companies:
        return fw.Turn(request.ctx, [Text(t("visits.no_companies"))], show_menu=True)
    prefill = {**prefill, "_companies": service.company_choices(companies)}
    ctx = request.ctx.remember(visit_prefill=prefill)
    return fw.Turn(ctx, list(lead or []), start_flow=fw.FlowId.VISIT_LOG.value)


def _who_logs_visits(request) -> fw.Turn:
    """「登錄訪視」 (or a visit typed out) from an owner: who logs visits, and what they can do instead
    (as 「導入…」 tells them who records a tool)."""
    return fw.Turn(request.ctx, [Text(t("visits.owner_cannot_log"), (
        Choice(t("visits.owner_book_button")), Choice(t("visits.owner_progress_button")),
        Choice(t("core.menu_staff"))))])


@registry.command("visit_log", "登錄訪視", "記錄訪視", "紀錄訪視", "登記訪視", "新增訪視", "訪視紀錄", "寫訪視紀錄",
                  role="advisor", refusal=_who_logs_visits)
def start_guided(request) -> fw.Turn:
    return _start(request, service.advisor_companies(request.session, advisor=request.ctx.user_id), {})


EXPLICIT_PREFIXES = ("訪視", "輔導紀錄", "輔導記錄")


def looks_like_visit(text: str) -> bool:
    squashed = fw.squash(text)
    return squashed.startswith(EXPLICIT_PREFIXES) or vp.parse_mode(text) is not None \
        or vp.DATE_SPAN.search(text) is not None


def log_from_message(request, text: str) -> fw.Turn | None:
    """An advisor's one-message visit log; None when the text is not one (let the FAQ answer)."""
    companies = service.advisor_companies(request.session, advisor=request.ctx.user_id)
    parsed = vp.parse_visit_message(text, today=_today(request.ctx),
                                    companies=[vp.CompanyRef(c.id, c.name or "", c.tax_id) for c in companies])
    explicit = fw.squash(text).startswith(EXPLICIT_PREFIXES)
    named = bool(parsed.company_ids)
    # A date with a mode or a duration, without a question (「今天去現地輔導 2小時」「上週五去教LINE
    # 1.5小時」), is a log even when the shop's name is not one of the advisor's: the guided log asks
    # which shop, rather than an off-topic reply or a staff ticket.
    described = bool((parsed.visit_date or parsed.future_date) and (parsed.mode or parsed.duration_minutes)
                     and not fw.has_question_marker(text))
    if not explicit and not (named and (parsed.mode or parsed.visit_date)) and not described:
        return None
    if explicit and not named and not parsed.visit_date and fw.has_question_marker(text):
        return None  # 「訪視要幾次？」 is a question for the FAQ, not a log
    answers = parsed.as_answers()
    lead = [Text(problem) for problem in problems(parsed)]
    if parsed.company_text and not parsed.company_ids and vp.TAX_ID.fullmatch(parsed.company_text):
        lead.append(Text(t("visits.company_not_yours", tax_id=parsed.company_text)))
    return _start(request, companies, answers, lead)


@registry.intercept_free_text
def advisor_visit_message(request) -> fw.Turn | None:
    """Give advisors' free text a chance to be a visit log before the FAQ sees it; from an owner, a
    visit typed out as advisors do (「訪視 阿明麵店 現地 今天 1小時」) is told who logs visits instead
    of becoming a ticket for staff."""
    if request.input.kind != "text" or not looks_like_visit(request.input.text):
        return None
    if "advisor" in request.ctx.roles:
        return log_from_message(request, request.input.text)
    text = request.input.text
    # A date with a mode or a duration: 「訪視 現場或線上」 alone is a question about visits.
    if "staff" not in request.ctx.roles and fw.squash(text).startswith(EXPLICIT_PREFIXES) and not fw.has_question_marker(text) \
            and vp.DATE_SPAN.search(text) and (vp.parse_mode(text) or vp.parse_duration(text)):
        return _who_logs_visits(request)
    return None


def _refusal(ctx: fw.Context, error: service.VisitError) -> fw.Turn:
    key = "too_late" if error.code == "too_late" else "not_found"
    return fw.Turn(ctx, [Text(t(f"visits.{key}"))], show_menu=True)


def _editable(request, visit_id: int, ctx: fw.Context):
    """The advisor's visit still open to changes, and its company; else VisitError."""
    from companies.models import Company

    visit = service.editable_visit(request.session, visit_id=visit_id, advisor=ctx.user_id, now=ctx.now)
    return visit, request.session.get(Company, visit.company_id)


def _company_label(visit, company) -> str:
    return company.name if company else f"#{visit.company_id}"


def _start_edit(request, visit_id: int, ctx: fw.Context) -> fw.Turn:
    try:
        visit, company = _editable(request, visit_id, ctx)
    except service.VisitError as error:
        return _refusal(ctx, error)
    local = to_taipei(visit.visited_at)
    prefill = {"_edit_id": visit.id, "company": visit.company_id, "date": local.date().isoformat(),
               "time": local.strftime("%H:%M") if local.hour or local.minute else "", "mode": visit.mode,
               "duration": visit.duration_minutes or 60, "topics": visit.topics or "", "notes": visit.notes or ""}
    choices = service.company_choices(service.advisor_companies(request.session, advisor=ctx.user_id))
    if visit.company_id not in {c["id"] for c in choices}:
        # Reassigned since: the visit's own company stays selectable in the edit.
        choices.append({"id": visit.company_id, "name": _company_label(visit, company),
                        "tax_id": company.tax_id if company else None})
    ctx = ctx.remember(visit_prefill={**prefill, "_companies": choices})
    return fw.Turn(ctx, [], start_flow=fw.FlowId.VISIT_LOG.value)


def _ask_delete(request, visit_id: int, ctx: fw.Context) -> fw.Turn:
    try:
        visit, company = _editable(request, visit_id, ctx)
    except service.VisitError as error:
        return _refusal(ctx, error)
    day = format_roc_date(to_taipei(visit.visited_at).date())
    return fw.Turn(ctx, [Text(t("visits.confirm_delete", date=day, company=_company_label(visit, company)), (
        Choice(t("visits.confirm_delete_yes"), data=encode_postback(c="visit_delete", arg=f"{visit.id}:yes"),
               display=t("visits.confirm_delete_yes")),
        Choice(t("visits.confirm_delete_no"), data=encode_postback(c="visit_delete", arg=f"{visit.id}:no"),
               display=t("visits.confirm_delete_no")),
    ))])


def _visit_id_arg(request) -> tuple[int | None, str]:
    raw = (request.argument or "").strip()
    visit_part, _, answer = raw.partition(":")
    if visit_part.isdigit():
        return int(visit_part), answer
    last = service.last_visit(request.session, advisor=request.ctx.user_id)
    return (last.id if last else None), answer


@registry.command("visit_edit", "修改訪視", "修改訪視紀錄", "改訪視", role="advisor")
def edit_visit(request) -> fw.Turn:
    visit_id, _ = _visit_id_arg(request)
    if visit_id is None:
        return fw.Turn(request.ctx, [Text(t("visits.no_recent"))], show_menu=True)
    return _start_edit(request, visit_id, request.ctx.cleared() if request.ctx.flow == fw.FlowId.VISIT_LOG.value
                       else request.ctx)


@registry.command("visit_delete", "刪除訪視", "刪除訪視紀錄", role="advisor")
def delete_visit(request) -> fw.Turn:
    visit_id, answer = _visit_id_arg(request)
    ctx = request.ctx.cleared() if request.ctx.flow == fw.FlowId.VISIT_LOG.value else request.ctx
    if visit_id is None:
        return fw.Turn(ctx, [Text(t("visits.no_recent"))], show_menu=True)
    if answer == "no":
        return fw.Turn(ctx, [Text(t("visits.kept"))], show_menu=True)
    if answer != "yes":
        return _ask_delete(request, visit_id, ctx)
    try:
        visit, company = _editable(request, visit_id, ctx)
        service.delete_visit(request.session, visit_id=visit_id, advisor=ctx.user_id, now=ctx.now)
    except service.VisitError as error:
        return _refusal(ctx, error)
    day = format_roc_date(to_taipei(visit.visited_at).date())
    return fw.Turn(ctx, [Text(t("visits.deleted", date=day, company=_company_label(visit, company)))],
                   show_menu=True)


def _checkup_levels(session, companies) -> dict[int, str]:
    """「（健檢 第 2 級 → 第 3 級）」 per company, for the advisor before a visit (checkup room)."""
    from checkup.service import level_text, progress

    found = progress(session, company_ids=[c.id for c in companies])
    return {cid: t("visits.progress_checkup", levels=level_text(entry)) for cid, entry in found.items()}


def _tool_not_yet(config, company, now: datetime) -> str:
    """No tool in use yet: by when it must be, when the campaign says (the letter's 最遲完成導入),
    or that the date has passed (「最遲 112/07/31 要開始用」 read in October sounded like time left)."""
    from letters.document import parse_roc_datetime

    deadline = campaign_settings(config, company.program_id).get("adoption_deadline")
    if not deadline:
        return t("visits.owner_progress_tool_no")
    try:
        passed = parse_roc_datetime(str(deadline)).date() < to_taipei(now).date()
    except ValueError:
        passed = False
    return t("visits.owner_progress_tool_late" if passed else "visits.owner_progress_tool_no_by", date=deadline)


def _owner_duties(request, company, p, now: datetime) -> tuple[list[str], list[str]]:
    """The rest of what a signed shop owes the programme, each with its state, and the words that
    start what is still open (for the buttons): the next visit, the 前測／後測 sent so far, the
    數位健檢. A shop that has not signed has none of these yet."""
    from assessments.service import completions, done_word
    from assessments.settings import tests_of
    from checkup.service import level_text, progress
    from visits.booking import next_visit_of

    lines, actions = [], []
    if company.letter_status != "signed":
        return lines, actions
    upcoming = next_visit_of(request.session, user_id=request.ctx.user_id, now=now)
    upcoming = upcoming if upcoming and upcoming[1].id == company.id else None
    if upcoming:
        visit = upcoming[0]
        lines.append(t("visits.owner_progress_next_visit", when=format_roc_datetime(visit.scheduled_at),
                       mode=service.mode_label(visit.mode), state=t(f"visits.owner_progress_visit_{visit.status}")))
    elif company.advisor_line_user_id and not p.meets_rule:
        lines.append(t("visits.owner_progress_no_visit"))
        actions.append(t("reminders.booking_button"))
    done = completions(request.session, company_ids=[company.id])
    for test in tests_of(request.services.config, company.program_id).values():
        if test.opens > now:
            continue
        if (company.id, test.id) in done:
            state = t("visits.owner_progress_test_done")
        else:
            key = "visits.owner_progress_test_late" if test.due <= now else "visits.owner_progress_test_open"
            word = done_word(test.id)
            state = t(key, due=format_roc_datetime(test.due), word=word)
        lines.append(t("visits.owner_progress_test", title=test.title, state=state))
    found = progress(request.session, company_ids=[company.id]).get(company.id)
    if found:
        lines.append(t("visits.owner_progress_checkup", levels=level_text(found)))
    else:
        lines.append(t("visits.owner_progress_checkup_none"))
        actions.append(t("core.menu_checkup"))
    return lines, actions


def _not_advisor_progress(request) -> fw.Turn:
    """「我的進度」 from someone who is not an advisor. Staff: every company against the checkpoint
    (「/查核點」), with the dashboard a tap away. An owner: their own shop's standing, from its records
    only (the letter, the advisor's visits against the programme's rule, the tool in use, then what
    else is due: the next visit, the 前測／後測, the 數位健檢), with a button for each thing still open;
    nothing of any other shop."""
    from companies.service import companies_of_user

    session, ctx = request.session, request.ctx
    if "staff" in ctx.roles:
        # Every shop's standing against the checkpoint, who misses what (checkpoints room).
        return registry.command_by_name("checkpoint_status").handler(request)
    companies, texts = shops_named(request, companies_of_user(session, line_user_id=ctx.user_id))
    if not companies:
        return fw.Turn(ctx, [*texts, Text(t("visits.owner_progress_none"))], show_menu=True)
    rules = service.visit_rules(request.services.config, companies[0].program_id)
    progress = service.progress_by_company(session, companies=companies, rules=rules)
    actions = []
    for company in companies[:3]:
        p = progress[company.id]
        letter = t(f"visits.owner_progress_letter_{company.letter_status}") if company.letter_status in (
            "signed", "withdrawn") else t("visits.owner_progress_letter_none")
        tool = (t("visits.owner_progress_tool_yes", date=format_roc_date(company.tool_adopted_at))
                if company.tool_adopted_at else _tool_not_yet(request.services.config, company, ctx.now))
        more, todo = _owner_duties(request, company, p, ctx.now)
        actions += [action for action in todo if action not in actions]
        texts.append(Text("\n".join([t("visits.owner_progress", name=company.name or t("visits.owner_progress_shop"),
                                       letter=letter, total=p.total, onsite=p.onsite, min_total=rules.min_total,
                                       min_onsite=rules.min_onsite, tool=tool), *more])))
    if not actions:
        return fw.Turn(ctx, texts, show_menu=True)
    choices = (*(Choice(action) for action in actions), Choice(t("core.menu_reminders")))
    texts[-1] = Text(texts[-1].text, choices)
    return fw.Turn(ctx, texts)


@registry.command("visit_progress", "我的進度", "訪視進度", "我的訪視進度", "我的店家進度", "店家進度", "我的店家",
                  "我負責的店家", "誰還沒訪視", "還有誰沒訪視", "哪些店還沒訪視", "哪些店家還沒訪視", "還沒訪視的店家",
                  "誰還沒達標", "哪些店還沒達標", "還沒達標的店家", role="advisor", others=_not_advisor_progress,
                  names_shop=True)
def my_progress(request) -> fw.Turn:
    """The advisor's shops against the visit rule."""
    session, ctx = request.session, request.ctx
    companies, notes = shops_named(request, service.advisor_companies(session, advisor=ctx.user_id))
    if not companies:
        return fw.Turn(ctx, [Text(t("visits.progress_none"))], show_menu=True)
    rules = service.visit_rules(request.services.config, companies[0].program_id)
    progress = service.progress_by_company(session, companies=companies, rules=rules)
    lines = [t("visits.progress_title"),
             t("visits.progress_rule", min_total=rules.min_total, min_onsite=rules.min_onsite)]
    done = 0
    ordered = sorted(companies, key=lambda c: (progress[c.id].meets_rule, progress[c.id].total))
    levels = _checkup_levels(session, companies)
    for company in ordered:
        p = progress[company.id]
        name = (company.name or company.tax_id or f"#{company.id}") + levels.get(company.id, "")
        if p.meets_rule:
            done += 1
            lines.append(t("visits.progress_line_ok", name=name, total=p.total, onsite=p.onsite))
        else:
            missing = []
            if p.missing_total:
                missing.append(t("visits.progress_missing_total", count=p.missing_total))
            if p.missing_onsite:
                missing.append(t("visits.progress_missing_onsite", count=p.missing_onsite))
            lines.append(t("visits.progress_line_missing", name=name, total=p.total, onsite=p.onsite,
                           missing="、".join(missing)))
    lines.append(t("visits.progress_summary", done=done, all=len(companies)))
    return fw.Turn(ctx, [*notes, Text("\n".join(lines))], show_menu=True)
