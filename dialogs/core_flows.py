"""Conversations every user meets: the menu, help, consent to the privacy statement, resuming a
paused conversation, and asking for a person."""
from __future__ import annotations

import functools
import hashlib
import re


from bot.messages import Text
from bot.services import audit, find_user
from bot.texts import t
from dialogs import framework as fw
from dialogs.parsing import is_unsure, parse_yes_no
from dialogs.registry import ROLE_HELP, command, flow as flow_by_id, register_flow

# The statement shown before collecting personal data (seed 002 捌 個人資料蒐集與利用聲明).
# Its version and hash are recorded with each consent; a new version asks again.
CONSENT_VERSION = "gonghao-2023-v1"


def consent_text() -> str:
    return t("core.consent_intro")


def consent_hash() -> str:
    return hashlib.sha256(consent_text().encode("utf-8")).hexdigest()


@command("menu", "選單", "主選單", "menu", "功能", "功能表", "開始", "hi", "hello", "你好", "您好", "嗨", "哈囉")
def show_menu(request) -> fw.Turn:
    return fw.Turn(request.ctx, [], show_menu=True)


@command("help", "說明", "help", "/help", "/說明", "使用說明", "怎麼用", "你會做什麼", "可以做什麼", "這是什麼")
def show_help(request) -> fw.Turn:
    # Staff and advisors get their own commands (registered by their domains); owners the welcome.
    role_help = [reply for helper in ROLE_HELP for reply in helper(request)] if request.ctx.roles else []
    if role_help:
        return fw.Turn(request.ctx, role_help)
    # The menu holds the recruitment steps; the words for the months after the letter arrive as
    # buttons on the monthly asks, and are listed here for an owner who looks for them.
    return fw.Turn(request.ctx, [Text(t("core.welcome", name="")), Text(t("core.help_after_letter"))],
                   show_menu=True)


@command("resume", "繼續", "繼續上次", "接著做")
def resume_paused(request) -> fw.Turn:
    ctx = request.ctx
    paused = ctx.memory.get("paused")
    flow = flow_by_id(paused["flow"]) if paused else None
    if not paused or flow is None:
        return fw.Turn(ctx, [Text(t("core.menu_prompt"))], show_menu=True)
    ctx = ctx.forget("paused").evolve(flow=paused["flow"], step=paused["step"], session_id=paused["session_id"],
                                      data=paused["data"], history=tuple(paused["history"]))
    return fw.current_question(flow, ctx)


@command("consent", "同意個資聲明", "個資聲明", "隱私權聲明", "個人資料聲明")
def start_consent(request) -> fw.Turn:
    return fw.Turn(request.ctx, [], start_flow=fw.FlowId.CONSENT.value)


def _ask_consent(ctx: fw.Context):
    link = ctx.services.public_url("/privacy") if ctx.services else "/privacy"
    choices = (ctx.choice(t("core.consent_agree"), "yes"), ctx.choice(t("core.consent_decline"), "no"))
    if ctx.repeat:
        # Asked again (a sticker, a question in between, an answer not taken): the nine-line notice
        # is already on the screen above; a phone screen gets one line and the full statement's link.
        return [Text(t("core.consent_again", link=link), choices)]
    return [Text(f"{consent_text()}\n\n{t('core.consent_full_link')}：{link}", choices)]


# Consent must be given or refused on purpose (個資法): a short yes or no answers it (「好啊」「我不要了」),
# anything else does not (「還沒看完」「沒看懂」「好像要先問老闆」), and a doubt gets the notice in plain words.
_CONSENT_NO = re.compile(r"^(我)?(還是)?(不同意|不要|不要了|不想|不用|不用了|拒絕|算了|不好|先不要|no|nope)(啦|喔|了|耶)?$")
_CONSENT_YES = re.compile(r"^(我)?(也)?(同意|好|好的|好啊|可以|ok|okay|yes|沒問題|對|嗯|恩)(了)?(啦|喔|哦|啊|呀|唷|的)?$")


def _parse_consent(ctx: fw.Context, user_input: fw.UserInput) -> bool:
    answer = fw.squash(user_input.answer_text)
    if answer in {"yes", "同意", "好", "好的", "可以", "ok", "我同意"}:
        return True
    if answer in {"no", "不同意", "不要", "不好"}:
        return False
    if _CONSENT_YES.match(answer):
        return True
    if _CONSENT_NO.match(answer):
        return False
    if is_unsure(answer) or parse_yes_no(answer) == "unsure":
        raise fw.Invalid(t("core.consent_plain"))
    raise fw.Invalid(t("core.consent_pick"))


def _finish_consent(request) -> fw.Turn:
    ctx = request.ctx
    agreed = ctx.data.get("agree")
    next_flow = ctx.memory.get("after_consent")
    prefill = ctx.memory.get("after_consent_prefill") or None
    ctx = ctx.cleared().forget("after_consent", "after_consent_prefill")
    if not agreed:
        audit(request.session, actor=ctx.user_id, action="consent_declined", version=CONSENT_VERSION)
        return fw.Turn(ctx, [Text(t("core.consent_declined"))], show_menu=True)
    user = find_user(request.session, ctx.user_id)
    user.consent_version = CONSENT_VERSION
    user.consent_hash = consent_hash()
    user.consented_at = ctx.now
    request.session.add(user)
    audit(request.session, actor=ctx.user_id, action="consent_given", version=CONSENT_VERSION,
          hash=consent_hash())
    request.after_commit.append(functools.partial(store_display_name, request.services, ctx.user_id))
    ctx = ctx.evolve(consented=True)
    if next_flow:
        return fw.Turn(ctx, [Text(t("core.consent_thanks"))], start_flow=next_flow, prefill=prefill)
    return fw.Turn(ctx, [Text(t("core.consent_thanks"))], show_menu=True)


def store_display_name(services, user_id: str) -> None:
    """Keep the person's LINE display name once they consented (no personal data before: 個資法
    第8條 notice, seed 002); the letter of intent prints it as the signer's. Runs after the
    consent's transaction committed (Request.after_commit), so the LINE call never holds the
    database's write lock. A name the person corrected themselves is left alone."""
    name = ((services.gateway.get_profile(user_id) or {}).get("display_name") or "")[:200]
    if not name:
        return
    with services.database.session() as session:
        user = find_user(session, user_id)
        if user is not None and user.consent_version == CONSENT_VERSION and not user.display_name:
            user.display_name = name
            session.add(user)


register_flow(fw.Flow(
    id=fw.FlowId.CONSENT,
    title=t("core.consent_title"),
    help=t("core.consent_help"),
    steps=(fw.Step("agree", t("core.consent_label"), _ask_consent, _parse_consent, help=t("core.consent_why")),),
    finish=_finish_consent,
    summary=False,
))
