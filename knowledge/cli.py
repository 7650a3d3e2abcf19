"""CLI: ``flask --app bot kb check [--json]``, ``kb reload``, ``faq list`` and ``faq answer``."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from bot.cli import emit, json_option

from . import unanswered
from .loader import check_knowledge_base
from .service import RELOAD_STAMP, KnowledgeBase, KnowledgeBaseError

kb_cli = AppGroup("kb", help="FAQ knowledge base (knowledge/entries).")
faq_cli = AppGroup("faq", help="Questions the FAQ could not answer.")


def _dirs() -> tuple[Path, Path]:
    return Path(current_app.config["KNOWLEDGE_DIR"]), Path(current_app.config["SEEDS_DIR"])


@kb_cli.command("check")
@json_option
def check(as_json: bool) -> None:
    """Validate every entry (fields, sources, duplicate ids/questions); counts per programme."""
    entries_dir, seeds_dir = _dirs()
    report = check_knowledge_base(entries_dir=entries_dir, seeds_dir=seeds_dir)
    lines = [report.summary()]
    lines += [f"  {program}: {count}" for program, count in sorted(report.counts.items())]
    lines += ["ERROR  " + e for e in report.errors] + ["warn   " + w for w in report.warnings]
    emit(as_json, report.as_dict(), "\n".join(lines))
    if not report.ok:
        sys.exit(1)


@kb_cli.command("reload")
@json_option
def reload(as_json: bool) -> None:
    """Rebuild the index strictly; when it is valid, signal running bots to swap it in
    (they watch the entry files' mtimes and a stamp file, checking every few seconds)."""
    entries_dir, seeds_dir = _dirs()
    try:
        kb = KnowledgeBase.load(entries_dir, seeds_dir, strict=True)
    except KnowledgeBaseError as exc:
        emit(as_json, {"ok": False, "errors": exc.report.errors},
             "NOT reloaded (running bots keep the previous index):\n" + "\n".join("ERROR  " + e for e in exc.report.errors))
        sys.exit(1)
    (entries_dir / RELOAD_STAMP).touch()
    live = current_app.extensions["bot"].services._lazy.get("kb")
    if live is not None:
        live.reload(strict=True)
    emit(as_json, {"ok": True, **kb.report.as_dict()}, "reloaded: " + kb.report.summary())


@faq_cli.command("list")
@json_option
@click.option("--all", "show_all", is_flag=True, help="include answered questions")
def list_questions(as_json: bool, show_all: bool) -> None:
    """Unanswered questions (open ones by default)."""
    with current_app.extensions["bot"].database.session() as session:
        rows = [unanswered.as_dict(r) for r in unanswered.list_questions(session, status=None if show_all else "open")]
    lines = [f"#{r['id']} [{r['status']}] {r['asked_at'][:16]} {r['question']}" for r in rows] or ["no open questions"]
    emit(as_json, {"questions": rows}, "\n".join(lines))


@faq_cli.command("answer")
@json_option
@click.argument("question_id", type=int)
@click.argument("text")
@click.option("--add-to-entry", default=None, help="also add the question as a phrasing of this entry id")
@click.option("--as-entry", is_flag=True, help="also save the answer as a new staff-answers entry")
@click.option("--by", "answered_by", default="staff-cli", show_default=True)
def answer(as_json: bool, question_id: int, text: str, add_to_entry: str | None, as_entry: bool, answered_by: str) -> None:
    """Answer question ID; the asker receives TEXT by push."""
    runtime = current_app.extensions["bot"]
    kb = runtime.services.kb
    try:
        with runtime.database.write_session() as session:
            outcome = unanswered.answer_question(session, question_id=question_id, answer=text,
                                                 answered_by=answered_by, kb=kb, add_to_entry=add_to_entry,
                                                 add_as_entry=as_entry)
            payload = {"question": unanswered.as_dict(outcome.row), "pushed": outcome.pushed,
                       "added_to_entry": outcome.added_to}
    except unanswered.UnansweredError as exc:
        emit(as_json, {"ok": False, "error": str(exc)}, f"not answered: {exc}")
        sys.exit(1)
    if add_to_entry or as_entry:
        (kb.entries_dir / RELOAD_STAMP).touch()  # running bots pick the edit up too
    sent = runtime.sender.deliver_due()
    emit(as_json, {"ok": True, **payload, "sent": sent},
         f"answered #{question_id}" + (" and pushed to the asker" if payload["pushed"] else "")
         + (f"; added to {payload['added_to_entry']}" if payload["added_to_entry"] else ""))
