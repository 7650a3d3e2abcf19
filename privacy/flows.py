"""「我的資料」 in chat: view and export, 修正 (a small conversation), 停止處理 / 恢復處理, and 刪除
with a two-step confirmation (seed 002 捌 六; 個資法 第3條)."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from bot.messages import Card, Choice, Text, encode_postback
from bot.texts import t
from bot.timeutil import format_roc_date
from dialogs import framework as fw
from dialogs import registry
from dialogs.parsing import is_figure, is_non_answer, parse_count
from dialogs.registry import command, register_flow
from privacy import document, erasure, service

DELETE_CONFIRM_WINDOW = timedelta(minutes=5)
DELETE_MEMORY = "privacy_delete"
FIELDS_MEMORY = "privacy_fields"


def _hub_choices(stopped: bool) -> tuple[Choice, ...]:
    return (Choice(t("privacy.btn_correct")),
            Choice(t("privacy.btn_resume") if stopped else t("privacy.btn_stop")),
            Choice(t("privacy.btn_delete")))


def _count(n: int) -> str:
    return t("privacy.count", n=n) if n else t("privacy.none")


# --- 我的資料 -------------------------------------------------------------------------------------

@command("my_data", "我的資料", "個資", "我的個資", "查看我的資料", "我的個人資料", "查詢我的資料", "下載我的資料")
def show_my_data(request) -> fw.Turn:
    ctx, session = request.ctx, request.session
    found = service.summary(session, line_user_id=ctx.user_id)
    user = service.get_user(session, line_user_id=ctx.user_id)
    if user is None or (found.empty and not user.consent_version):
        return fw.Turn(ctx, [Text(t("privacy.summary_empty"))], show_menu=True)
    row = found.user or {}
    if row.get("consent_version") and found.consent_current:
        consent = t("privacy.row_consent_yes", date=format_roc_date(user.consented_at) if user.consented_at else "—")
    elif row.get("consent_version"):
        consent = t("privacy.row_consent_outdated")
    else:
        consent = t("privacy.row_consent_no")
    companies = "、".join(c.get("name") or c.get("tax_id") or "—" for c in found.companies) or t("privacy.none")
    answers = sum(len(c.get("answers") or {}) for c in found.companies)
    letters = "、".join(t("privacy.letter_status", status=t(f"privacy.letter_{c.get('status')}"),
                          version=c.get("version_count")) for c in found.letters) or t("privacy.none")
    active = registry.flow(found.conversation_flow) if found.conversation_flow else None
    listed = {"users", "companies", "letters", "visits", "reminders", "unanswered_questions", "conversations"}
    # The rest by name (「您傳來的訊息 12 筆、操作紀錄 3 筆」), not as one anonymous count.
    records = "、".join(f"{document.table_label(table)} {t('privacy.count', n=n)}"
                        for table, n in found.counts.items() if table not in listed and n)
    rows = (
        (t("privacy.row_name"), row.get("display_name") or "—"),
        (t("privacy.row_consent"), consent),
        (t("privacy.row_processing"), t("privacy.row_processing_stopped") if user.processing_stopped
         else t("privacy.row_processing_on")),
        (t("privacy.row_reminders"), t("privacy.row_reminders_on") if user.reminders_enabled
         else t("privacy.row_reminders_off")),
        (t("privacy.row_companies"), companies),
        (t("privacy.row_answers"), _count(answers)),
        (t("privacy.row_letters"), letters),
        (t("privacy.row_visits"), _count(len(found.visits))),
        (t("privacy.row_reminders_pending"), _count(found.reminders_pending)),
        (t("privacy.row_questions"), _count(found.questions)),
        (t("privacy.row_conversation"), active.title if active else t("privacy.none")),
        (t("privacy.row_records"), records or t("privacy.none")),
    )
    config = request.services.config
    urls = service.export_urls(config, user=user)
    minutes = max(1, service.export_seconds(config) // 60)
    card = Card(title=t("privacy.summary_title"), rows=rows, body=t("privacy.summary_intro"))
    # Links as buttons: nobody has to read (or copy) a raw address.
    download = Card(title=t("privacy.export_title"), body=t("privacy.export_body", minutes=minutes),
                    buttons=tuple(Choice(t(f"privacy.export_{kind}"), kind="uri", uri=urls[kind])
                                  for kind in ("page", "csv", "json")))
    hub = Text(t("privacy.hub_actions"), _hub_choices(user.processing_stopped))
    return fw.Turn(ctx, [card, download, hub])


# --- 停止處理 / 恢復處理 ---------------------------------------------------------------------------

@command("privacy_stop", "停止處理", "停止處理我的資料", "停止處理個資", "停止使用我的資料")
def stop_processing(request) -> fw.Turn:
    changed = service.set_processing_stopped(request.session, line_user_id=request.ctx.user_id, stopped=True)
    return fw.Turn(request.ctx, [Text(t("privacy.stop_done" if changed else "privacy.stop_already"),
                                      (Choice(t("privacy.btn_resume")),))])


@command("privacy_resume", "恢復處理", "恢復處理我的資料", "恢復處理個資")
def resume_processing(request) -> fw.Turn:
    changed = service.set_processing_stopped(request.session, line_user_id=request.ctx.user_id, stopped=False)
    return fw.Turn(request.ctx, [Text(t("privacy.resume_done" if changed else "privacy.resume_already"))],
                   show_menu=True)


# --- 刪除: two steps ------------------------------------------------------------------------------

@command("privacy_delete", "刪除我的資料", "刪除個資", "刪除資料", "刪除我的個資", "刪除我的個人資料")
def delete_step1(request) -> fw.Turn:
    ctx, session = request.ctx, request.session
    found = service.summary(session, line_user_id=ctx.user_id)
    if found.empty:
        return fw.Turn(ctx, [Text(t("privacy.delete_nothing"))], show_menu=True)
    items = [t("privacy.item_profile"), t("privacy.item_consent")]
    if found.companies:
        items.append(t("privacy.item_companies"))
    items.append(t("privacy.item_conversations"))
    if found.reminders_pending:
        items.append(t("privacy.item_reminders"))
    if found.questions:
        items.append(t("privacy.item_questions"))
    kept = _kept_preview(found)
    text = t("privacy.delete_explain", items="、".join(items))
    if kept:
        text += "\n\n" + t("privacy.delete_keep", kept="\n".join(t(f"privacy.retain_{k}") for k in kept))
    nonce = secrets.token_hex(6)
    ctx = ctx.remember(**{DELETE_MEMORY: {"nonce": nonce, "stage": 1, "at": ctx.now.isoformat()}})
    buttons = (Choice(t("privacy.delete_step1_button"), data=encode_postback(c="privacy_delete_step2", arg=nonce),
                      display=t("privacy.delete_step1_button")),
               Choice(t("privacy.delete_keep_button")))
    return fw.Turn(ctx, [Text(text, buttons)])


def _kept_preview(found: service.Summary) -> list[str]:
    kept = []
    if any(letter.get("status") == "signed" for letter in found.letters):
        kept.append("letter")
    if found.visits:
        kept.append("visits")
    kept.append("audit")
    return kept


def _pending_delete(ctx: fw.Context, stage: int) -> dict | None:
    pending = ctx.memory.get(DELETE_MEMORY)
    if not isinstance(pending, dict) or pending.get("stage") != stage:
        return None
    try:
        at = datetime.fromisoformat(pending["at"])
    except (KeyError, TypeError, ValueError):
        return None
    return pending if ctx.now - at <= DELETE_CONFIRM_WINDOW else {"expired": True}


@command("privacy_delete_step2")
def delete_step2(request) -> fw.Turn:
    ctx = request.ctx
    pending = _pending_delete(ctx, 1)
    if pending is None or (not pending.get("expired") and pending.get("nonce") != request.argument):
        return fw.Turn(ctx, [Text(t("privacy.delete_not_requested"))], show_menu=True)
    if pending.get("expired"):
        return fw.Turn(ctx.forget(DELETE_MEMORY), [Text(t("privacy.delete_expired"))], show_menu=True)
    ctx = ctx.remember(**{DELETE_MEMORY: {"nonce": pending["nonce"], "stage": 2, "at": ctx.now.isoformat()}})
    return fw.Turn(ctx, [Text(t("privacy.delete_step2"), (Choice(t("privacy.delete_keep_button")),))])


@command("privacy_delete_confirm", "確定刪除", "確認刪除")
def delete_confirm(request) -> fw.Turn:
    ctx = request.ctx
    pending = _pending_delete(ctx, 2)
    if pending is None:
        return fw.Turn(ctx, [Text(t("privacy.delete_not_requested"))], show_menu=True)
    if pending.get("expired"):
        return fw.Turn(ctx.forget(DELETE_MEMORY), [Text(t("privacy.delete_expired"))], show_menu=True)
    reply_key = f"event:{request.event.get('webhookEventId')}" if request.event.get("webhookEventId") else None
    result = erasure.erase_person(request.session, line_user_id=ctx.user_id, config=request.services.config,
                                  reply_key=reply_key)
    # The conversation starts over, with nothing remembered.
    ctx = ctx.cleared().evolve(memory={}, consented=False)
    kept = [k for k in result.retained if k in ("letter", "visits", "audit")]
    if kept:
        text = t("privacy.delete_done_kept", kept="\n".join(t(f"privacy.retain_{k}") for k in kept))
    else:
        text = t("privacy.delete_done")
    return fw.Turn(ctx, [Text(text)])


@command("privacy_delete_cancel", "先不要刪除", "不要刪除")
def delete_cancel(request) -> fw.Turn:
    return fw.Turn(request.ctx.forget(DELETE_MEMORY), [Text(t("privacy.delete_cancelled"))], show_menu=True)


# --- 修正: pick a field, type the new value --------------------------------------------------------

def _label(name: str) -> str:
    return t(f"privacy.field_{name}")


def _fields(ctx: fw.Context) -> list[dict]:
    return list(ctx.memory.get(FIELDS_MEMORY) or [])


def _field(ctx: fw.Context) -> dict | None:
    key = ctx.data.get("field")
    return next((f for f in _fields(ctx) if f["key"] == key), None)


def _ask_field(ctx: fw.Context):
    choices = tuple(ctx.choice(f["label"][:20], f["key"]) for f in _fields(ctx)[:12])
    return [Text(t("privacy.correct_ask_field"), choices)]


def _parse_field(ctx: fw.Context, user_input: fw.UserInput) -> str:
    answer = user_input.answer_text.strip()
    for item in _fields(ctx):
        if answer in (item["key"], item["label"]) or fw.squash(answer) == fw.squash(item["label"]):
            if item["kind"] == "letter":
                raise fw.Invalid(t("privacy.correct_letter_field", label=item["label"]), looks_like_question=False)
            return item["key"]
    raise fw.Invalid(t("privacy.correct_pick_field"))


def _display(value) -> str:
    if isinstance(value, bool):
        return t("privacy.yes") if value else t("privacy.no")
    return "—" if value in (None, "") else str(value)


def _choice_label(item: dict, value) -> str:
    return next((label for key, label in item.get("choices") or () if key == str(value)), _display(value))


def _ask_value(ctx: fw.Context):
    item = _field(ctx) or {}
    current = _choice_label(item, item.get("current"))
    if item.get("kind") == "choice":
        choices = tuple(ctx.choice(label[:20], key) for key, label in item["choices"][:12])
        return [Text(t("privacy.correct_ask_value_choice", label=item["label"], current=current), choices)]
    if item.get("kind") == "boolean":
        return [Text(t("privacy.correct_ask_value_choice", label=item["label"], current=current),
                     (ctx.choice(t("privacy.yes"), "yes"), ctx.choice(t("privacy.no"), "no")))]
    return [Text(t("privacy.correct_ask_value", label=item.get("label", ""), current=current))]


def _parse_value(ctx: fw.Context, user_input: fw.UserInput):
    item = _field(ctx) or {}
    answer = user_input.answer_text.strip()
    kind = item.get("kind", "text")
    if kind == "integer":
        count = parse_count(answer)  # 「5」「5人」「五個人」「只有我自己」; 「-3」 is none
        if count is not None and count <= int(item.get("max", 100000)):
            return count
        raise fw.Invalid(t("privacy.invalid_number", max=item.get("max", 100000)), looks_like_question=False)
    if kind == "boolean":
        if answer in ("yes", t("privacy.yes"), "對", "有"):
            return True
        if answer in ("no", t("privacy.no"), "不是", "沒有"):
            return False
        raise fw.Invalid(t("privacy.invalid_yes_no"))
    if kind == "choice":
        for key, label in item.get("choices") or ():
            if answer in (key, label):
                return key
        raise fw.Invalid(t("privacy.correct_pick_field"))
    if kind == "county":
        from eligibility.flows import counties

        value = answer.replace("台", "臺")
        if value in counties():
            return value
        raise fw.Invalid(t("privacy.invalid_county"))
    limit = int(item.get("max", 200))
    # 「謝謝」 is a word to the bot, and 「五個人」 no shop's name, trade or product (a LINE name may be digits)
    words = not is_non_answer(answer) and (item.get("key") == "user.display_name" or not is_figure(answer))
    if 1 <= len(answer) <= limit and answer.isprintable() and words:
        return answer
    raise fw.Invalid(t("privacy.invalid_text", max=limit))


def _finish(request) -> fw.Turn:
    ctx = request.ctx
    item = _field(ctx) or {}
    value = ctx.data.get("value")
    programs = request.services.get("programs")
    done = service.apply_correction(request.session, line_user_id=ctx.user_id, key=item.get("key", ""),
                                    value=value, programs=programs)
    ctx = ctx.cleared().forget(FIELDS_MEMORY)
    if not done:
        return fw.Turn(ctx, [Text(t("privacy.correct_no_fields"))], show_menu=True)
    return fw.Turn(ctx, [Text(t("privacy.correct_done", label=item["label"], value=_choice_label(item, value)))],
                   show_menu=True)


register_flow(fw.Flow(
    id=fw.FlowId.PRIVACY,
    title=t("privacy.correct_title"),
    help=t("privacy.correct_help"),
    steps=(
        fw.Step("field", t("privacy.correct_title"), _ask_field, _parse_field,
                display=lambda ctx, v: (_field(ctx) or {}).get("label", "")),
        fw.Step("value", t("privacy.correct_title"), _ask_value, _parse_value),
    ),
    finish=_finish,
    summary=False,
))


@command("privacy_correct", "修正資料", "修改資料", "更正資料", "修正我的資料", "修改我的資料", "修正個資")
def start_correction(request) -> fw.Turn:
    ctx = request.ctx
    fields = service.correctable_fields(request.session, line_user_id=ctx.user_id,
                                        programs=request.services.get("programs"), label=_label)
    if not fields:
        return fw.Turn(ctx, [Text(t("privacy.correct_no_fields"))], show_menu=True)
    stored = [{"key": f.key, "label": f.label, "current": f.current, "kind": f.kind,
               "choices": [list(c) for c in f.choices], "max": f.max} for f in fields]
    return fw.Turn(ctx.remember(**{FIELDS_MEMORY: stored}), [], start_flow=fw.FlowId.PRIVACY.value)
