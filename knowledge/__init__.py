"""FAQ: the retrieval engine (pure Python) and its wiring into the app.

Public interface:
    from knowledge.service import KnowledgeBase, AskResult, KnowledgeBaseError
    kb = KnowledgeBase.load(entries_dir=None, seeds_dir=None, *, strict=False, default_program=None,
                            programs_file=None)   # programs.yaml: the campaign's rules for 「可以報嗎」
    kb.ask(question, *, program_hint=None, previous_entry_id=None) -> AskResult
    kb.entry(entry_id) -> Entry | None;  kb.reload(*, strict=True) -> KBReport
    kb.watch(interval=3.0); kb.check_for_changes(background=True)   # automatic reload
    from knowledge.loader import check_knowledge_base   # kb check
    from knowledge.bench import benchmark_ask            # make bench
    knowledge.unanswered: log_question / answer_question / list_questions (staff answers)

In the app (``init_app``): services provider "kb", ``GET /api/ask``, ``/staff/unanswered``,
CLI ``kb check|reload`` and ``faq list|answer``; the chat side is knowledge.flows.
"""
from __future__ import annotations

import threading

import yaml

AUTO_RELOAD_SECONDS = 3.0  # how often ask() may look at the entry files' mtimes


def campaign_program(config) -> str | None:
    """The programme this account recruits for: the one the chat's eligibility check uses
    (``ELIGIBILITY_PROGRAM``), else the first in PROGRAMS_FILE whose ``campaign:`` block
    recruits businesses by letter of intent, else the first with a ``campaign:`` block.
    None (no file): the knowledge base's own default (synonyms.yaml)."""
    if config.get("ELIGIBILITY_PROGRAM"):
        return config["ELIGIBILITY_PROGRAM"]
    try:
        with open(config["PROGRAMS_FILE"], encoding="utf-8") as fh:
            programs = (yaml.safe_load(fh) or {}).get("programs") or {}
    except (KeyError, OSError, yaml.YAMLError):
        return None
    with_campaign = [(pid, spec["campaign"]) for pid, spec in programs.items()
                     if isinstance(spec, dict) and isinstance(spec.get("campaign"), dict)]
    recruiting = [pid for pid, campaign in with_campaign if campaign.get("letter_of_intent")]
    return (recruiting or [pid for pid, _ in with_campaign] or [None])[0]


def init_app(app) -> None:
    from . import index
    from .cli import faq_cli, kb_cli
    from .routes import api, staff_bp
    from .service import KnowledgeBase

    config = app.config
    runtime = app.extensions["bot"]

    def build(_services=None):
        kb = KnowledgeBase.load(entries_dir=config["KNOWLEDGE_DIR"], seeds_dir=config["SEEDS_DIR"],
                                default_program=campaign_program(config), programs_file=config.get("PROGRAMS_FILE"))
        kb.watch(interval=float(config.get("KB_RELOAD_SECONDS", AUTO_RELOAD_SECONDS)))
        # The documents' passages (second tier, ~0.5 s) are indexed next, off the request path.
        threading.Thread(target=lambda: kb.passages, name="faq-passages-build", daemon=True).start()
        return kb

    runtime.services.providers["kb"] = build

    def start_building() -> None:
        # Serving processes build the index at start-up (jieba's dictionary first, in
        # parallel with the rest of start-up), not on the first question. CLI runs skip it.
        index.warm_up()
        threading.Thread(target=runtime.services.get, args=("kb",), name="faq-kb-build", daemon=True).start()

    runtime.background.append(start_building)
    for bp in (api, staff_bp):
        if bp.name not in app.blueprints:
            app.register_blueprint(bp)
    for group in (kb_cli, faq_cli):
        if group.name not in app.cli.commands:
            app.cli.add_command(group)
