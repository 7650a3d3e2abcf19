"""FAQ retrieval engine (pure Python; no Flask, no LINE).

Public interface:
    from knowledge.service import KnowledgeBase, AskResult, KnowledgeBaseError
    kb = KnowledgeBase.load(entries_dir=None, seeds_dir=None, *, strict=False)
    kb.ask(question, *, program_hint=None, previous_entry_id=None) -> AskResult
    kb.entry(entry_id) -> Entry | None;  kb.reload(*, strict=True) -> KBReport
    from knowledge.loader import check_knowledge_base   # kb check
    from knowledge.bench import benchmark_ask            # make bench
"""
