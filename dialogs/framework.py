"""The dialog framework: a conversation is a declared sequence of steps; each step is pure.

    advance(flow, context, user_input) -> Turn(new context, replies, …)

Nothing here touches the database or LINE. The dispatcher (bot.dispatcher) loads the context,
calls ``advance``, runs the flow's ``finish`` inside the same transaction when the turn asks for
it, saves the new context and queues the replies. That makes every step testable as a function
and keeps I/O in one place.

How a flow moves: the next question is always *the first applicable step without an answer*
(``Step.when`` decides applicability). So "上一步" just forgets the last answer, editing from the
summary forgets one answer, and skipping questions the verdict does not need is a ``when``.

Buttons carry ``f`` (flow), ``s`` (session id) and ``st`` (step) in their postback data; a button
from another session or an earlier step gets "this button has expired" and the current question.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Callable, Sequence
from urllib.parse import parse_qsl

from bot.messages import Card, Choice, Reply, Text, encode_postback
from bot.texts import t
from dialogs.parsing import is_non_answer, parse_yes_no

SUMMARY_STEP = "_summary"
RESUME_AFTER = timedelta(hours=6)  # idle longer than this: offer to resume instead of assuming


class FlowId(StrEnum):
    """The closed set of conversations. Each is registered once in dialogs.registry."""

    CONSENT = "consent"
    DEMO = "demo"
    ELIGIBILITY = "eligibility"
    CLUSTER_CHECK = "cluster_check"
    LETTER = "letter"
    VISIT_LOG = "visit_log"
    VISIT_BOOKING = "visit_booking"
    BROADCAST = "broadcast"
    INVITE = "invite"
    PRIVACY = "privacy"
    STAFF_ANSWER = "staff_answer"
    ADOPTION = "adoption"
    USAGE_REPORT = "usage_report"
    REPLACEMENT = "replacement"
    ACTIVITY_CREATE = "activity_create"
    ACTIVITY_NAME = "activity_name"
    CHECKUP = "checkup"
    KPI_REPORT = "kpi_report"


class Nav(StrEnum):
    BACK = "back"
    CANCEL = "cancel"
    RESTART = "restart"
    MENU = "menu"
    HELP = "help"


# Words people type to navigate; compared after stripping spaces and punctuation.
NAV_WORDS: dict[str, Nav] = {
    "上一步": Nav.BACK, "上一題": Nav.BACK, "返回": Nav.BACK, "回上一步": Nav.BACK, "back": Nav.BACK,
    "取消": Nav.CANCEL, "不要了": Nav.CANCEL, "先不用": Nav.CANCEL, "cancel": Nav.CANCEL, "結束": Nav.CANCEL,
    "重新開始": Nav.RESTART, "重來": Nav.RESTART, "從頭開始": Nav.RESTART, "restart": Nav.RESTART,
    "選單": Nav.MENU, "主選單": Nav.MENU, "menu": Nav.MENU, "功能表": Nav.MENU,
    "說明": Nav.HELP, "help": Nav.HELP, "幫助": Nav.HELP, "?": Nav.HELP, "？": Nav.HELP,
    # the 「這是什麼？」 button typed by hand, without its question mark
    "這是什麼": Nav.HELP, "這是什麼意思": Nav.HELP, "什麼意思": Nav.HELP, "啥意思": Nav.HELP, "這什麼": Nav.HELP,
    "這題是什麼意思": Nav.HELP, "看不懂這題": Nav.HELP,
}

MEDIA_KINDS = {"image", "video", "audio", "file", "location"}


def squash(text: str) -> str:
    """Lower-case text without spaces or trailing punctuation, for matching commands."""
    return "".join(text.split()).strip("。.!！~～").lower()


@dataclass(frozen=True)
class UserInput:
    """What the person did, independent of LINE's event shapes."""

    kind: str  # text | postback | sticker | image | video | audio | file | location
    text: str = ""
    data: dict[str, str] = field(default_factory=dict)  # decoded postback data
    params: dict[str, str] = field(default_factory=dict)  # datetime picker result
    message_id: str | None = None

    @property
    def answer_text(self) -> str:
        """The text to parse: typed text, or a postback's value / picker result."""
        if self.kind in ("text", "location"):  # a shared location carries its address as text
            return self.text
        if self.kind == "postback":
            if self.params:
                return next(iter(self.params.values()))
            return self.data.get("v", "")
        return ""

    @classmethod
    def text_input(cls, text: str) -> "UserInput":
        return cls(kind="text", text=text)

    @classmethod
    def postback(cls, data: str, params: dict | None = None) -> "UserInput":
        return cls(kind="postback", data=dict(parse_qsl(data or "")), params=dict(params or {}))


@dataclass(frozen=True)
class Context:
    """A snapshot of one user's conversation plus read-only facts about them."""

    user_id: str
    now: datetime
    flow: str | None = None
    step: str | None = None
    session_id: str | None = None
    data: dict = field(default_factory=dict)
    history: tuple[str, ...] = ()
    memory: dict = field(default_factory=dict)
    updated_at: datetime | None = None
    roles: frozenset[str] = frozenset()
    consented: bool = False
    services: Any = None  # read-only helpers (knowledge base, programmes); see bot.services
    # The question being asked is the one already on screen (an answer was not taken, a sticker,
    # 上一步 on the first question): a flow says the question again without its opening words.
    # Not stored: it only describes the reply being built.
    repeat: bool = False

    def evolve(self, **changes) -> "Context":
        return replace(self, **changes)

    def with_answer(self, step: str, value: Any) -> "Context":
        return self.evolve(data={**self.data, step: value}, history=(*self.history, step))

    def without_answer(self, step: str) -> "Context":
        data = {k: v for k, v in self.data.items() if k != step}
        history = tuple(s for s in self.history if s != step)
        return self.evolve(data=data, history=history)

    def cleared(self) -> "Context":
        return self.evolve(flow=None, step=None, session_id=None, data={}, history=())

    def set_aside(self) -> "Context":
        """No conversation, with this one kept in memory ("paused") to be resumed later."""
        paused = {"flow": self.flow, "step": self.step, "session_id": self.session_id,
                  "data": self.data, "history": list(self.history)}
        return self.cleared().remember(paused=paused)

    def remember(self, **values) -> "Context":
        return self.evolve(memory={**self.memory, **values})

    def forget(self, *keys: str) -> "Context":
        return self.evolve(memory={k: v for k, v in self.memory.items() if k not in keys})

    # Buttons bound to this session and step (see module docstring).
    def choice(self, label: str, value: str, *, step: str | None = None, display: str | None = None) -> Choice:
        data = encode_postback(f=self.flow, s=self.session_id, st=step or self.step, v=value)
        return Choice(label=label, data=data, display=display or label)

    def action(self, label: str, act: str, *, step: str | None = None, display: str | None = None, **extra) -> Choice:
        data = encode_postback(f=self.flow, s=self.session_id, st=step or self.step, act=act, **extra)
        return Choice(label=label, data=data, display=display or label)

    def picker(self, label: str, mode: str = "datetime", *, initial: str | None = None,
               min: str | None = None, max: str | None = None) -> Choice:
        data = encode_postback(f=self.flow, s=self.session_id, st=self.step, act="pick")
        return Choice(label=label, data=data, kind=mode, initial=initial, min=min, max=max)


class Invalid(Exception):
    """Raised by a step's parser: the input is not an acceptable answer. ``message`` is zh-TW."""

    def __init__(self, message: str, *, looks_like_question: bool | None = None):
        super().__init__(message)
        self.message = message
        self.looks_like_question = looks_like_question


@dataclass(frozen=True)
class Step:
    name: str
    label: str  # short zh-TW label used in the summary ("員工人數")
    ask: Callable[[Context], Sequence[Reply]]  # the question, with its quick replies
    parse: Callable[[Context, UserInput], Any]  # value, or raise Invalid
    when: Callable[[Context], bool] = lambda ctx: True  # ask only when it matters
    display: Callable[[Context, Any], str] | None = None  # how the answer reads in the summary
    store: Callable[[Context, Any], Context] | None = None  # default: data[name] = value
    accepts: frozenset[str] = frozenset({"text", "postback"})
    help: str = ""  # one line on why we ask / what counts
    # Private data keys where ``store`` keeps a partial answer to this step (a county waiting for its
    # township): 「上一步」 undoes that first, as it would undo a whole answer.
    pending: tuple[str, ...] = ()
    # The label when it depends on the conversation (a slot whose question is data: 「營業額（參加前）」).
    label_of: Callable[[Context], str] | None = None
    # What 「取消」 (「結束」「不要了」) says at this step when the record is saved already (a visit's
    # photos): 「已取消」 would read as if the record were gone.
    cancelled: str = ""

    def title(self, ctx: Context) -> str:
        return self.label_of(ctx) if self.label_of else self.label


@dataclass(frozen=True)
class Turn:
    ctx: Context
    replies: list[Reply]
    finish: bool = False  # run the flow's finish() (in the dispatcher's transaction)
    faq: str | None = None  # answer this text with the FAQ, then show ``replies`` (the re-ask)
    show_menu: bool = False
    start_flow: str | None = None  # hand the conversation to another flow
    prefill: dict | None = None  # answers already given for ``start_flow`` (e.g. 「三個人」 said to the FAQ)


@dataclass(frozen=True)
class Flow:
    id: FlowId
    title: str  # zh-TW name shown to people ("資格檢查")
    help: str  # zh-TW: what this conversation does, how to navigate
    steps: tuple[Step, ...]
    # Runs in the dispatcher's transaction: (request: bot.dispatcher.Request) -> Turn, where
    # request.ctx is the context with every answer and request.session the DB session.
    finish: Callable[..., "Turn"]
    summary: bool = True
    requires_consent: bool = False
    # True when the outcome can no longer change: skip remaining questions and the summary.
    settled: Callable[[Context], bool] = lambda ctx: False
    prefill: Callable[[Context], dict] | None = None  # answers known before asking (e.g. from intake)
    summary_title: str = ""
    slow_finish: bool = False  # finish() does slow work: show LINE's loading animation first
    # Runs before every next question (pure): lets a flow say something the moment it is known,
    # without waiting for the end (the eligibility verdict before the company details), and note
    # in the context that it did. (ctx) -> (ctx, replies to put before the question).
    announce: Callable[[Context], tuple[Context, list[Reply]]] | None = None

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)


# --- the engine ---------------------------------------------------------------------------------

def new_session_id() -> str:
    return secrets.token_hex(4)


def start(flow: Flow, ctx: Context, *, prefill: dict | None = None) -> Turn:
    data = dict(prefill or {})
    if flow.prefill:
        data = {**flow.prefill(ctx), **data}
    # Answers given with the command (「/公告 明天停班」「訪視 阿明麵店 今天」) are answers like any:
    # 「上一步」 goes back to them instead of saying this is the first question.
    history = tuple(step.name for step in flow.steps if step.name in data)
    ctx = ctx.evolve(flow=flow.id.value, session_id=new_session_id(), data=data, history=history, step=None)
    return _move_on(flow, ctx, [])


def pending_step(flow: Flow, ctx: Context) -> Step | None:
    for step in flow.steps:
        if step.name not in ctx.data and step.when(ctx):
            return step
    return None


def _ask(flow: Flow, ctx: Context, step: Step, lead: list[Reply]) -> Turn:
    ctx = ctx.evolve(step=step.name, repeat=ctx.step == step.name)
    return Turn(ctx, [*lead, *_with_nav(ctx, list(step.ask(ctx)))])


def nav_choices(ctx: Context) -> list[Choice]:
    """上一步 (when there is an answer to go back to) and 取消, for a question's quick replies."""
    back = [Choice(t("core.nav_back"))] if ctx.history else []
    return [*back, Choice(t("core.nav_cancel"))]


def _with_nav(ctx: Context, replies: list[Reply]) -> list[Reply]:
    """Give the last question a 上一步 / 取消 quick reply when it has none of its own."""
    if replies and isinstance(replies[-1], Text) and not replies[-1].quick_replies:
        replies[-1] = Text(replies[-1].text, tuple(nav_choices(ctx)))
    return replies


def _move_on(flow: Flow, ctx: Context, lead: list[Reply]) -> Turn:
    if flow.announce is not None:
        ctx, said = flow.announce(ctx)
        lead = [*lead, *said]
    if flow.settled(ctx):
        return Turn(ctx.evolve(step=None), lead, finish=True)
    step = pending_step(flow, ctx)
    if step is not None:
        return _ask(flow, ctx, step, lead)
    if flow.summary:
        ctx = ctx.evolve(step=SUMMARY_STEP)
        return Turn(ctx, [*lead, summary_card(flow, ctx)])
    return Turn(ctx.evolve(step=None), lead, finish=True)


def proceed(flow: Flow, ctx: Context, lead: list[Reply] | None = None) -> Turn:
    """Carry on from ``ctx`` as after an answer: announce, finish when settled, else the next
    question or the summary. For a ``finish`` that looked something up and lets the flow go on."""
    return _move_on(flow, ctx, list(lead or []))


def display_value(step: Step, ctx: Context) -> str:
    value = ctx.data.get(step.name)
    if step.display:
        return step.display(ctx, value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        return "、".join(map(str, value)) or "無"
    return "—" if value in (None, "") else str(value)


def summary_card(flow: Flow, ctx: Context) -> Card:
    answered = [s for s in flow.steps if s.name in ctx.data and s.when(ctx)]
    edits = [ctx.action(t("core.summary_edit", label=s.title(ctx)), "edit", step=SUMMARY_STEP, target=s.name)
             for s in answered][:11]  # 11 edits + 確認 + 取消 = LINE's 13 quick replies
    return Card(
        title=flow.summary_title or t("core.summary_title"),
        rows=tuple((s.title(ctx), display_value(s, ctx)) for s in answered),
        note=t("core.summary_edit_hint"),
        buttons=(ctx.action(t("core.summary_confirm"), "confirm", step=SUMMARY_STEP),),
        quick_replies=(*edits, ctx.action(t("core.summary_confirm"), "confirm", step=SUMMARY_STEP),
                       Choice(t("core.nav_cancel"))),
    )


def current_question(flow: Flow, ctx: Context, lead: list[Reply] | None = None) -> Turn:
    """Repeat whatever the conversation is waiting for."""
    lead = list(lead or [])
    if ctx.step == SUMMARY_STEP:
        return Turn(ctx, [*lead, summary_card(flow, ctx)])
    step = flow.step(ctx.step or "") or pending_step(flow, ctx)
    if step is None:
        return _move_on(flow, ctx, lead)
    return _ask(flow, ctx, step, lead)


def nav_of(user_input: UserInput) -> Nav | None:
    if user_input.kind == "text":
        word = squash(user_input.text)
        bare = word.rstrip("?？")  # 「這是什麼?」「上一步？」 typed with a question mark
        return NAV_WORDS.get(word) or (NAV_WORDS.get(bare) if bare else None)
    if user_input.kind == "postback" and user_input.data.get("nav"):
        try:
            return Nav(user_input.data["nav"])
        except ValueError:
            return None
    return None


def is_stale(ctx: Context, user_input: UserInput) -> bool:
    """A flow button from another session, or for a step we are no longer on."""
    if user_input.kind != "postback" or "s" not in user_input.data:
        return False
    data = user_input.data
    if data.get("f") != ctx.flow or data.get("s") != ctx.session_id:
        return True
    return data.get("st") != ctx.step


def _restart(flow: Flow, ctx: Context) -> Turn:
    turn = start(flow, ctx.cleared())
    return Turn(turn.ctx, [Text(t("core.restarted", flow=flow.title)), *turn.replies], turn.finish)


def faq_then_resume(flow: Flow, ctx: Context, question: str) -> Turn:
    """An off-topic question mid-form: answer it from the FAQ, then ask again."""
    again = current_question(flow, ctx, [Text(t("core.faq_answered_resume", flow=flow.title))])
    return Turn(again.ctx, again.replies, faq=question)


def advance(flow: Flow, ctx: Context, user_input: UserInput, reading: "Reading | None" = None) -> Turn:
    """One step of a conversation that is in ``flow``. Pure. ``reading``: the input as ``read``
    took it already (the dispatcher asked whether it answers), so it is not read again."""
    nav = nav_of(user_input)
    if nav is Nav.CANCEL:
        step = flow.step(ctx.step or "")
        said = step.cancelled if step is not None and step.cancelled else t("core.cancelled", flow=flow.title)
        return Turn(ctx.cleared(), [Text(said)], show_menu=True)
    if nav is Nav.RESTART:
        return _restart(flow, ctx)
    if nav is Nav.MENU:
        return Turn(ctx.set_aside(), [Text(t("core.paused_for_menu", flow=flow.title))], show_menu=True)
    if nav is Nav.HELP:
        step = flow.step(ctx.step or "")
        lines = [flow.help] + ([step.help] if step and step.help else [])
        return current_question(flow, ctx, [Text("\n".join(lines))])
    if nav is Nav.BACK:
        current = flow.step(ctx.step or "")
        if current is not None and any(key in ctx.data for key in current.pending):
            data = {k: v for k, v in ctx.data.items() if k not in current.pending}
            history = tuple(s for s in ctx.history if s != current.name or current.name in data)
            return current_question(flow, ctx.evolve(data=data, history=history))
        if not ctx.history:
            return current_question(flow, ctx, [Text(t("core.back_at_start"))])
        previous = ctx.history[-1]
        return current_question(flow, ctx.without_answer(previous).evolve(step=previous))

    if is_stale(ctx, user_input):
        return current_question(flow, ctx, [Text(t("core.button_expired"))])

    if ctx.step == SUMMARY_STEP:
        return _summary_input(flow, ctx, user_input, reading or read(flow, ctx, user_input))

    step = flow.step(ctx.step or "")
    if step is None:
        return _move_on(flow, ctx, [])

    if user_input.kind == "sticker":
        return current_question(flow, ctx, [Text(t("core.sticker_mid_flow", flow=flow.title))])
    if user_input.kind not in step.accepts and user_input.kind in MEDIA_KINDS:
        media = t(f"core.media_{user_input.kind}")
        return current_question(flow, ctx, [Text(t("core.media_mid_flow", media=media))])
    if user_input.kind == "text" and not user_input.text.strip():
        return current_question(flow, ctx, [Text(t("core.empty_input"))])

    try:
        if reading is None:
            value = step.parse(ctx, user_input)
        elif reading.error is not None:
            raise reading.error
        else:
            value = reading.value
    except Invalid as invalid:
        if user_input.kind == "text" and _looks_like_question(user_input.text, invalid):
            return faq_then_resume(flow, ctx, user_input.text)
        return current_question(flow, ctx, [Text(invalid.message)])

    ctx = step.store(ctx, value) if step.store else ctx.with_answer(step.name, value)
    if step.name not in ctx.history:
        ctx = ctx.evolve(history=(*ctx.history, step.name))
    return _move_on(flow, ctx, [])


QUESTION_MARKERS = ("?", "？", "嗎", "呢", "怎麼", "什麼", "如何", "多少", "幾", "哪", "可以", "能不能", "是否", "請問", "為何", "為什麼")


def has_question_marker(text: str) -> bool:
    """The text asks something (「導入要多久？」「簽到表要寫什麼」): it is for the FAQ, not a record."""
    return any(marker in text for marker in QUESTION_MARKERS)


def _looks_like_question(text: str, invalid: Invalid | None = None) -> bool:
    if invalid is not None and invalid.looks_like_question is not None:
        return invalid.looks_like_question
    stripped = text.strip()
    return len(stripped) >= 4 and has_question_marker(stripped)


SUMMARY_CONFIRM_WORDS = frozenset({"確認", "確定", "沒問題", "ok", "對", "正確", "好"})


def _summary_edit_target(flow: Flow, ctx: Context, text: str) -> str | None:
    """The answer a typed 「修改員工人數」 (or just 「員工人數」) on the summary card asks to change."""
    wanted = text.removeprefix("修改").removeprefix("改")
    return next((s.name for s in flow.steps if squash(s.title(ctx)) == wanted and s.name in ctx.data), None)


# Words that say the value after a label is a new one (「時數改成90分鐘」「行業：餐飲」). Without
# one, 改/修改 must come first (「改方式 線上」): 「行業沒錯」 only says the answer is right.
_CHANGE_WORDS = ("改成", "改為", "換成", "更正為", "應該是", ":", "：")
# A value that confirms the answer rather than replacing it (「輔導內容：沒問題」): one of these words
# alone, or a yes containing one of the longer ones (「對 沒錯」).
_CONFIRMING_PHRASES = ("沒錯", "沒問題", "正確", "無誤")
_CONFIRMING = (*_CONFIRMING_PHRASES, "對", "對的", "是的")


def _confirms(value: str) -> bool:
    plain = squash(value).rstrip("!！~～。.…啊喔哦啦呀唷耶")
    return is_non_answer(value) or plain in _CONFIRMING or (
        parse_yes_no(value) is True and any(word in plain for word in _CONFIRMING_PHRASES))


def _summary_edit_with_value(flow: Flow, ctx: Context, text: str) -> tuple[Step, str] | None:
    """「時數改成90分鐘」「改時數 2小時」 on the summary card: the answer to change and its new value
    as typed (the value is then parsed by the step, as if asked)."""
    for step in flow.steps:
        label = squash(step.title(ctx))
        if step.name not in ctx.data or not label:
            continue
        found = re.match(r"\s*(修改|改)?\s*" + r"\s*".join(map(re.escape, label)) + r"\s*("
                         + "|".join(map(re.escape, _CHANGE_WORDS)) + r")?\s*(.+)", text, re.IGNORECASE | re.S)
        if found and (found.group(1) or found.group(2)) and found.group(3).strip() \
                and not _confirms(found.group(3)):
            return step, found.group(3).strip()
    return None


@dataclass(frozen=True)
class Reading:
    """The input read once against what the conversation waits for (``read``): the step's value or
    why it was not taken, or on the summary card what the text asks for. The dispatcher asks
    whether it answers (then it is neither a command nor small talk) and hands it to ``advance``,
    which acts on it instead of reading the input again."""
    value: Any = None
    error: Exception | None = None  # Invalid, or a parser's own error: either way not an answer
    # On the summary card: ("confirm",), ("open", step name) for a label alone, ("edit", step, new
    # value as typed) for a label with its new value, () for none of these.
    summary: tuple | None = None

    @property
    def answers(self) -> bool:
        return bool(self.summary) if self.summary is not None else self.error is None


def read(flow: Flow, ctx: Context, user_input: UserInput) -> Reading:
    if ctx.step == SUMMARY_STEP:
        return Reading(summary=_summary_reading(flow, ctx, user_input.text if user_input.kind == "text" else ""))
    step = flow.step(ctx.step or "")
    if step is None:
        return Reading(error=LookupError(ctx.step))
    try:
        return Reading(value=step.parse(ctx, user_input))
    except Exception as error:
        return Reading(error=error)


def _summary_reading(flow: Flow, ctx: Context, text: str) -> tuple:
    key = squash(text)
    if not key:
        return ()
    if key in SUMMARY_CONFIRM_WORDS:
        return ("confirm",)
    target = _summary_edit_target(flow, ctx, key)
    if target is not None:
        return ("open", target)
    edit = _summary_edit_with_value(flow, ctx, text)
    return ("edit", *edit) if edit is not None else ()


def _summary_input(flow: Flow, ctx: Context, user_input: UserInput, reading: Reading) -> Turn:
    act = user_input.data.get("act") if user_input.kind == "postback" else None
    said, *what = reading.summary or ("",)
    if act == "confirm" or said == "confirm":
        return Turn(ctx.evolve(step=None), [], finish=True)
    target = user_input.data.get("target") if act == "edit" else what[0] if said == "open" else None
    step = flow.step(target or "")
    if step is not None:
        ctx = ctx.without_answer(step.name)
        return _ask(flow, ctx, step, [])
    if said == "edit":
        # The new value with it: taken at once, back to the card; not taken: that question, and why.
        step, value = what
        asked = ctx.without_answer(step.name).evolve(step=step.name)
        try:
            parsed = step.parse(asked, UserInput.text_input(value))
        except Invalid as invalid:
            return _ask(flow, asked, step, [Text(invalid.message)])
        ctx = step.store(asked, parsed) if step.store else asked.with_answer(step.name, parsed)
        return _move_on(flow, ctx, [])
    if user_input.kind == "sticker":
        return current_question(flow, ctx, [Text(t("core.sticker_mid_flow", flow=flow.title))])
    if user_input.kind in MEDIA_KINDS:  # a photo on the card: said so, not 「要修改哪一項呢？」
        return current_question(flow, ctx, [Text(t("core.media_mid_flow", media=t(f"core.media_{user_input.kind}")))])
    if user_input.kind == "text" and _looks_like_question(user_input.text):
        return faq_then_resume(flow, ctx, user_input.text)
    return current_question(flow, ctx, [Text(t("core.edit_which"))])


def resume_offer(flow: Flow, ctx: Context) -> Turn:
    step = flow.step(ctx.step or "")
    label = step.title(ctx) if step else t("core.summary_title")
    offer = Text(t("core.resume_offer", flow=flow.title, step=label), (
        ctx.action(t("core.resume_continue"), "resume", step=ctx.step),
        ctx.action(t("core.resume_restart"), "restart", step=ctx.step),
        ctx.action(t("core.resume_drop"), "drop", step=ctx.step),
    ))
    return Turn(ctx.remember(resume_offered=True), [offer])


def handle_resume_answer(flow: Flow, ctx: Context, user_input: UserInput) -> Turn | None:
    """The answer to ``resume_offer``; None when the input is something else."""
    if not ctx.memory.get("resume_offered"):
        return None
    ctx = ctx.forget("resume_offered")
    act = user_input.data.get("act") if user_input.kind == "postback" else None
    text = squash(user_input.text) if user_input.kind == "text" else ""
    if act == "resume" or text in {"繼續", "好", "要"}:
        return current_question(flow, ctx)
    if act == "restart" or text in {"重新開始", "重來"}:
        return _restart(flow, ctx)
    if act == "drop" or text in {"不用了", "不要", "取消"}:
        return Turn(ctx.cleared(), [Text(t("core.resume_dropped", flow=flow.title))], show_menu=True)
    return None  # anything else: carry on as a normal input


def needs_resume_offer(ctx: Context) -> bool:
    return bool(ctx.flow and ctx.updated_at and ctx.now - ctx.updated_at > RESUME_AFTER
                and not ctx.memory.get("resume_offered"))
