"""The one routing table: flows by FlowId, and chat commands with the role each requires.

Domains register here from their ``flows.py`` (imported by ``load_all``). Permissions are declared
at registration (``role="staff"``); the dispatcher refuses before the handler runs, politely and
without revealing that the command exists, and audits the attempt. A command whose words everyone
types (「我的進度」「健檢結果」) declares ``others``: the handler for people without the role (their
own view), so the permission stays declared here and not inside the handler.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Callable

from bot.messages import Choice, Text
from bot.texts import t
from dialogs.framework import Context, Flow, FlowId, Turn, has_question_marker, squash

FLOWS: dict[FlowId, Flow] = {}
COMMANDS: list["Command"] = []

# Modules that register flows/commands. Order matters only for overlapping phrases.
FLOW_MODULES = (
    "dialogs.core_flows",
    "dialogs.demo",
    "eligibility.flows",
    "companies.flows",
    "knowledge.flows",
    "letters.flows",
    "adoption.flows",
    "visits.flows",
    "broadcasts.flows",
    "scheduler.flows",
    "privacy.flows",
    "staff.flows",
    "replacements.flows",
    "activities.flows",
    "assessments.flows",
    "checkup.flows",
    "kpis.flows",
    "checkpoints.flows",
)


@dataclass(frozen=True)
class Command:
    name: str
    phrases: tuple[str, ...]  # exact phrases (after squash), or prefixes when ``prefix`` is True
    handler: Callable  # (request) -> Turn ; see bot.dispatcher.Request
    role: str | None = None  # None: everyone; "staff" / "advisor"
    prefix: bool = False  # "/公告 內容…" style commands take the rest as an argument
    # Whether typing it in the middle of another conversation starts it (pausing that one): True,
    # False, or a predicate of the context — 「導入…」 is a command for advisors and staff but, from
    # an owner filling a form, a question the form's FAQ answers before it resumes.
    interrupts: object = True
    others: Callable | None = None  # (request) -> Turn for people without ``role``; None: refused
    # (request) -> Turn said instead of the plain refusal (recorded as one all the same): 「登錄訪視」
    # from an owner is told who logs visits and what they can do instead.
    refusal: Callable | None = None
    # A read command whose phrase may be followed by a shop's name (「我的進度 王記」「健檢結果 阿明」):
    # the words are the argument, and the handler narrows to the shops the asker may see
    # (visits.company_step.shops_named) instead of the words going to the FAQ as a question.
    names_shop: bool = False


def staff_dashboard_turn(ctx: Context) -> Turn:
    """A staff member typing an advisor's command: the advisor's chat view lists only the shops
    assigned to them, which staff have none of; the dashboard has every company's figures."""
    return Turn(ctx, [Text(t("core.advisor_only_staff"), (Choice("/登入"),))])


def register_flow(flow: Flow) -> Flow:
    if flow.id in FLOWS and FLOWS[flow.id] is not flow:
        raise ValueError(f"flow {flow.id} registered twice")
    FLOWS[flow.id] = flow
    return flow


def command(name: str, *phrases: str, role: str | None = None, prefix: bool = False, interrupts: object = True,
            others: Callable | None = None, refusal: Callable | None = None, names_shop: bool = False):
    def decorator(handler: Callable) -> Callable:
        if any(c.name == name for c in COMMANDS):
            raise ValueError(f"command {name} registered twice")
        COMMANDS.append(Command(name, tuple(squash(p) for p in phrases), handler, role, prefix, interrupts,
                                others, refusal, names_shop))
        return handler
    return decorator


ASKABLE = frozenset({"help", "menu"})


def find_command(text: str) -> tuple[Command, str] | None:
    """The command a text invokes, with the argument text after a prefix phrase."""
    key = squash(text)
    # 「說明？」「選單?」: asked as a question, only the commands that change nothing are run; 「停止處理？」
    # or 「意向書？」 asks about the thing (the FAQ answers), it does not do it.
    bare = key.rstrip("?？")
    for cmd in COMMANDS:
        if not cmd.prefix and (key in cmd.phrases or (bare and cmd.name in ASKABLE and bare in cmd.phrases)):
            return cmd, ""
    # The longest matching prefix wins, whatever the order commands were registered in: with
    # "/公告" and "/公告預覽" both registered, "/公告預覽 …" must not become an announcement.
    # (max keeps the first of equals: a phrase registered twice goes to the first command.)
    named = _with_shop_name(text)
    if named:
        return named
    matches = [(cmd, phrase) for cmd in COMMANDS if cmd.prefix for phrase in cmd.phrases if key.startswith(phrase)]
    if not matches:
        return None
    cmd, phrase = max(matches, key=lambda match: len(match[1]))
    stripped = text.strip()
    rest = stripped[len(phrase):] if stripped.lower().startswith(phrase) else stripped
    return cmd, rest.strip()


def _with_shop_name(text: str) -> tuple[Command, str] | None:
    """A ``names_shop`` phrase, then a space or colon and words that ask nothing (「我的進度 店7」):
    the command with those words. The separator keeps sentences that only start with the phrase
    (「我的進度要怎麼看」) for the FAQ, as do words that ask something (「健檢結果 要怎麼看」)."""
    stripped = text.strip()
    found = [(cmd, match.group(1).strip()) for cmd in COMMANDS if cmd.names_shop for phrase in cmd.phrases
             if (match := re.match(re.escape(phrase) + r"[\s:：,，]+(.+)$", stripped, re.IGNORECASE | re.DOTALL))]
    found = [(cmd, rest) for cmd, rest in found if rest and not has_question_marker(rest)]
    return max(found, key=lambda hit: len(stripped) - len(hit[1]), default=None)


def command_by_name(name: str) -> Command | None:
    return next((c for c in COMMANDS if c.name == name), None)


def flow(flow_id: str | FlowId) -> Flow | None:
    try:
        return FLOWS.get(FlowId(flow_id))
    except ValueError:
        return None


_loaded = False


def load_all() -> None:
    """Import every domain's flows module once (they register themselves)."""
    global _loaded
    if _loaded:
        return
    from bot.config import REPO_ROOT

    for module in FLOW_MODULES:
        package, _, name = module.partition(".")
        if (REPO_ROOT / package / f"{name}.py").exists():
            importlib.import_module(module)
    _loaded = True

# 「說明」 for people with a role: each is (request) -> replies for the roles it knows (empty list:
# none). When any answers, the person gets those instead of the owner welcome.
ROLE_HELP: list[Callable] = []

# Free text that is neither a navigation word, a command nor an answer goes here (the FAQ).
FREE_TEXT_HANDLER: Callable | None = None
# Before the FAQ, interceptors may claim a free text (e.g. an advisor's one-message visit log):
# each is (request) -> Turn | None, tried in registration order; None means "not mine".
FREE_TEXT_INTERCEPTORS: list[Callable] = []


# The main menu for one person: (session, user_id) -> Choices, or None for everyone's menu. One room
# decides (letters: after signing, 「我符合資格嗎？」「簽署合作意向書」 give way to what comes next).
MENU_FOR: Callable | None = None


def set_menu_for(provider: Callable) -> Callable:
    global MENU_FOR
    MENU_FOR = provider
    return provider


def intercept_free_text(interceptor: Callable) -> Callable:
    if interceptor not in FREE_TEXT_INTERCEPTORS:
        FREE_TEXT_INTERCEPTORS.append(interceptor)
    return interceptor


def set_free_text_handler(handler: Callable) -> Callable:
    global FREE_TEXT_HANDLER
    FREE_TEXT_HANDLER = handler
    return handler
