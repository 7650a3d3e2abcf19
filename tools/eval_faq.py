"""Run the FAQ evaluation sets through the engine and print accuracy figures (`make eval`).

Usage: .venv/bin/python tools/eval_faq.py [--entries knowledge/entries] [--seeds programs/documents]
                                           [--sets faq_dev.jsonl,faq_roles_dev.jsonl,owner_probes.jsonl]
                                           [--probes tests/fixtures/faq_probes.jsonl] [--verbose]
       .venv/bin/python tools/eval_faq.py --dump after.json [--compare before.json] [--extra a.jsonl,b.jsonl]

``--dump`` writes every line's outcome (right or not, band, entry, score) of the sets (and of
``--extra`` files outside the repository, e.g. unseen sets) to a JSON file; ``--compare`` prints the
lines whose outcome changed against an earlier dump (GAIN/LOSS) and the totals: how every change to
the engine or the knowledge base is checked before it is kept. With ``--totals`` only the totals of the
``--extra`` sets are printed, never their lines (a set kept unseen is measured, not read).

Sets (tests/fixtures/eval/): faq_dev and faq_roles_dev are the public dev sets (regression
checks); owner_probes is the team's owner probe set, written from the seeds before any tuning.

Scoring (tests/fixtures/eval/README.md): an in-scope answer is correct when it contains
at least one alternative of EVERY expected group after normalisation (no
whitespace, full-width ASCII -> half-width, lowercase) and the engine said
matched=true.  Top-3: the expected facts are in the answer of one of the
first three candidates (the answer or the suggestions).  Out-of-scope questions
must get matched=false.  A line with an ``audience`` is asked with that side's role
(owner -> owner, unit -> staff, advisor -> advisor).  Small talk (``kind: small_talk``) is
right when the reply is one short line (<= 80 characters) and not the fallback text; it
must never be a question for staff (band "fallback").  Always exits 0 (it reports, the
tests gate).

Probes (tests/fixtures/faq_probes.jsonl) are the team's own paraphrases, written
without looking at the dev questions, to check that KB/engine changes generalise:
each in-scope probe lists the acceptable entry ids (``expect_ids``); it is
correct when the engine answers (matched) with one of them (for a two-programme
answer, either entry shown counts; ``rules:eligibility`` is the answer composed from the campaign's
eligibility rules, knowledge/joining.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from knowledge.normalize import eval_normalize  # noqa: E402
from knowledge.service import FALLBACK_TEXT, KnowledgeBase  # noqa: E402

EVAL_DIR = REPO / "tests" / "fixtures" / "eval"
# The FAQ sets in EVAL_DIR: the two public dev sets (regression checks) and the owner probes.
FAQ_SETS = ("faq_dev.jsonl", "faq_roles_dev.jsonl", "owner_probes.jsonl", "owner_probes2.jsonl", "owner_probes3.jsonl",
               "owner_probes4.jsonl", "owner_probes5.jsonl", "owner_probes6.jsonl",
               "owner_probes7.jsonl", "owner_probes16.jsonl", "owner_probes17.jsonl", "owner_probes18.jsonl",
               "owner_probes21.jsonl", "owner_probes26.jsonl", "owner_probes27.jsonl", "owner_probes28.jsonl",
               "owner_probes29.jsonl", "owner_probes30.jsonl", "owner_probes31.jsonl", "owner_probes32.jsonl",
               "owner_probes33.jsonl", "owner_probes34.jsonl", "owner_probes35.jsonl", "owner_probes36.jsonl",
               "owner_probes37.jsonl", "owner_probes38.jsonl", "owner_probes39.jsonl", "owner_probes40.jsonl",
               "owner_probes41.jsonl", "owner_probes42.jsonl", "owner_probes43.jsonl", "owner_probes44.jsonl",
               "owner_probes45.jsonl", "owner_probes46.jsonl", "owner_probes47.jsonl", "owner_probes48.jsonl",
               "owner_probes49.jsonl", "owner_probes50.jsonl", "owner_probes51.jsonl", "owner_probes52.jsonl",
               "owner_probes53.jsonl", "owner_probes54.jsonl", "owner_probes55.jsonl", "owner_probes56.jsonl",
               "owner_probes57.jsonl", "owner_probes58.jsonl", "owner_probes59.jsonl", "owner_probes60.jsonl",
               "owner_probes65.jsonl", "owner_probes66.jsonl", "owner_probes67.jsonl", "owner_probes68.jsonl",
               "owner_probes73.jsonl", "owner_probes74.jsonl", "owner_probes75.jsonl", "owner_probes76.jsonl",
               "owner_probes77.jsonl", "owner_probes78.jsonl", "owner_probes83.jsonl", "owner_probes84.jsonl",
               "owner_probes86.jsonl", "owner_probes92.jsonl", "owner_probes93.jsonl", "owner_probes94.jsonl",
               "owner_probes97.jsonl", "owner_probes98.jsonl", "owner_probes100.jsonl", "owner_probes102.jsonl",
               "owner_probes104.jsonl", "owner_probes106.jsonl", "owner_probes108.jsonl", "owner_probes110.jsonl",
               "owner_probes112.jsonl")


def facts_present(answer: str, expect: list[list[str]]) -> bool:
    text = eval_normalize(answer)
    return all(any(eval_normalize(alt) in text for alt in group) for group in expect)


AUDIENCE_ROLES = {"owner": "owner", "unit": "staff", "advisor": "advisor"}
SMALL_TALK_MAX_CHARS = 80


def role_of(row: dict) -> str | None:
    return AUDIENCE_ROLES.get(row.get("audience") or "")


def _split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(in-scope rows, out-of-scope rows); small talk is neither (see evaluate_small_talk)."""
    return ([r for r in rows if r.get("kind") not in ("out_of_scope", "small_talk")],
            [r for r in rows if r.get("kind") == "out_of_scope"])


def small_talk_ok(res) -> bool:
    answer = (res.answer or "").strip()
    return (bool(answer) and "\n" not in answer and len(answer) <= SMALL_TALK_MAX_CHARS
            and answer != FALLBACK_TEXT and res.band != "fallback" and not res.suggestions)


def right(res, row: dict) -> bool:
    """Whether ``res`` is the right outcome for the line: an off-topic message declined (not
    matched), small talk acknowledged in one short line, an in-scope question answered (matched)
    with every expected group of facts in its answer."""
    kind = row.get("kind")
    if kind == "out_of_scope":
        return not res.matched
    if kind == "small_talk":
        return small_talk_ok(res)
    return bool(res.matched and facts_present(res.answer, row["expect"]))


def evaluate_small_talk(kb: KnowledgeBase, rows: list[dict]) -> dict:
    talk = [r for r in rows if r.get("kind") == "small_talk"]
    misses = []
    for r in talk:
        res = kb.ask(r["q"], role=role_of(r))
        if not right(res, r):
            misses.append({"id": r["id"], "q": r["q"], "band": res.band, "answer": res.answer[:60]})
    return {"small_talk": len(talk), "small_talk_ok": len(talk) - len(misses), "small_talk_misses": misses}


def _out_of_scope(kb: KnowledgeBase, rows: list[dict]) -> tuple[int, list[dict]]:
    """(how many the engine rightly did not answer, the ones it answered)."""
    false_accepts = []
    for r in rows:
        res = kb.ask(r["q"], role=role_of(r))
        if not right(res, r):
            false_accepts.append({"id": r["id"], "q": r["q"], "got": res.entry_id, "score": round(res.score, 3),
                                  "note": r.get("note"), "features": res.debug.get("features")})
    return len(rows) - len(false_accepts), false_accepts


def evaluate(kb: KnowledgeBase, rows: list[dict]) -> dict:
    in_scope, oos = _split(rows)
    per_program: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses, top3_hits, correct = [], 0, 0
    per_audience: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in in_scope:
        res = kb.ask(r["q"], role=role_of(r))
        ok = right(res, r)
        per_audience[r.get("audience", "-")][0] += ok
        per_audience[r.get("audience", "-")][1] += 1
        cand_ids = ([res.entry_id] if res.entry_id else []) + [s["entry_id"] for s in res.suggestions]
        seen = list(dict.fromkeys(cand_ids + [x[0] for x in res.debug.get("top", [])]))
        top3 = ok or any(facts_present(kb.entry(cid).answer, r["expect"]) for cid in seen[:3] if kb.entry(cid))
        correct += ok
        top3_hits += top3
        per_program[r.get("program", "?")][0] += ok
        per_program[r.get("program", "?")][1] += 1
        if not ok:
            expected_entry = next((cid for cid in seen if kb.entry(cid) and facts_present(kb.entry(cid).answer, r["expect"])), None)
            if expected_entry is None:
                expected_entry = next((e.id for e in kb.entries if facts_present(e.answer, r["expect"])
                                       and e.program == r.get("program")), None)
            misses.append({"id": r["id"], "q": r["q"], "got": res.entry_id, "band": res.band,
                           "score": round(res.score, 3), "expected": r["expect"], "source": r.get("source"),
                           "entry_with_facts": expected_entry, "top": res.debug.get("top", [])[:3],
                           "features": res.debug.get("features")})
    rejected, false_accepts = _out_of_scope(kb, oos)
    return {
        "in_scope": len(in_scope), "correct": correct, "top3": top3_hits,
        "oos": len(oos), "rejected": rejected,
        "per_program": {k: tuple(v) for k, v in sorted(per_program.items())},
        "per_audience": {k: tuple(v) for k, v in sorted(per_audience.items())},
        "misses": misses, "false_accepts": false_accepts, **evaluate_small_talk(kb, rows),
    }


def evaluate_probes(kb: KnowledgeBase, rows: list[dict]) -> dict:
    in_scope, oos = _split(rows)
    correct = top3 = 0
    misses = []
    for r in in_scope:
        res = kb.ask(r["q"])
        # An answer composed from the campaign's rules (「可以報嗎」) is named by its intent.
        answered = res.entry_id or (f"rules:{res.intent.split(':')[0]}" if res.tier == "rules" and res.intent else None)
        shown = {answered} | ({x["entry_id"] for x in res.related} if res.needs_program_choice else set())
        ok = res.matched and bool(shown & set(r["expect_ids"]))
        ranked = [x[0] for x in res.debug.get("top", [])][:3] or [s["entry_id"] for s in res.suggestions]
        correct += ok
        top3 += ok or bool(set(ranked) & set(r["expect_ids"]))
        if not ok:
            misses.append({"id": r["id"], "q": r["q"], "got": res.entry_id, "band": res.band,
                           "score": round(res.score, 3), "expected": r["expect_ids"], "top": ranked})
    rejected, false_accepts = _out_of_scope(kb, oos)
    return {"in_scope": len(in_scope), "correct": correct, "top3": top3, "oos": len(oos), "rejected": rejected,
            "misses": misses, "false_accepts": false_accepts}


def read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} = {100.0 * a / b:.1f}%" if b else "n/a"


def report_set(name: str, res: dict, *, verbose: bool) -> None:
    print(f"== {name}")
    print(f"in-scope accuracy : {_pct(res['correct'], res['in_scope'])}")
    print(f"top-3 accuracy    : {_pct(res['top3'], res['in_scope'])}")
    print(f"out-of-scope rej. : {_pct(res['rejected'], res['oos'])}")
    if res["small_talk"]:
        print(f"small talk        : {_pct(res['small_talk_ok'], res['small_talk'])}")
    if len(res["per_program"]) > 1:
        print("per programme: " + ", ".join(f"{p} {_pct(ok, n)}" for p, (ok, n) in res["per_program"].items()))
    if len(res["per_audience"]) > 1:
        print("per audience : " + ", ".join(f"{a} {_pct(ok, n)}" for a, (ok, n) in res["per_audience"].items()))
    if res["misses"]:
        print("misses (id | q | got [band score] | expected | entry holding the facts):")
        for m in res["misses"]:
            print(f"  {m['id']} | {m['q']} | {m['got']} [{m['band']} {m['score']}] | {m['expected']} | {m['entry_with_facts']}")
            if verbose:
                print(f"      top={m['top']} features={m['features']}")
    if res["false_accepts"]:
        print("out-of-scope answered (id | q | got score | note):")
        for m in res["false_accepts"]:
            print(f"  {m['id']} | {m['q']} | {m['got']} {m['score']} | {m['note']}")
            if verbose:
                print(f"      features={m['features']}")
    for m in res["small_talk_misses"]:
        print(f"  small talk not acknowledged {m['id']} | {m['q']} | {m['band']} | {m['answer']}")


def outcomes(kb: KnowledgeBase, rows: list[dict]) -> dict[str, dict]:
    """Each line's outcome, by id: right or not (as evaluate() scores it), band, entry and score."""
    out = {}
    for r in rows:
        res = kb.ask(r["q"], role=role_of(r))
        out[r["id"]] = {"ok": right(res, r), "band": res.band, "entry": res.entry_id,
                        "score": round(res.score or 0, 3), "q": r["q"], "kind": r.get("kind") or "in"}
    return out


def compare(before: dict[str, dict], after: dict[str, dict], *, hidden: set[str] = frozenset()) -> list[str]:
    """The lines whose outcome changed (GAIN/LOSS; a hidden line is counted, never shown) and the totals."""
    lines, gains, losses = [], 0, 0
    for key, now in after.items():
        was = before.get(key)
        if was is None or was["ok"] == now["ok"]:
            continue
        gains, losses = gains + now["ok"], losses + (not now["ok"])
        if key not in hidden:
            lines.append(f"{'GAIN' if now['ok'] else 'LOSS'} {key} {now['q']} | {was['entry']} -> {now['entry']} "
                         f"{now['band']} {now['score']}")
    return lines + [f"gains {gains} losses {losses} (of {len(after)})"]


def _dump_and_compare(kb: KnowledgeBase, args) -> int:
    # Without a dump to write or compare, only the --extra sets are measured (their totals).
    sets = [EVAL_DIR / name for name in filter(None, args.sets.split(","))] if args.dump or args.compare else []
    extra = [Path(p) for p in filter(None, args.extra.split(","))]
    result, hidden = {}, set()
    for path in sets + extra:
        if not path.exists():
            print(f"== {path.name}: not there (skipped)")
            continue
        got = outcomes(kb, read_jsonl(path))
        result.update(got)
        if path in extra:
            if args.totals:
                hidden |= set(got)
            tally = {kind: [0, 0] for kind in ("in", "out_of_scope", "small_talk")}
            for v in got.values():
                tally[v["kind"]][0] += v["ok"]
                tally[v["kind"]][1] += 1
            print(f"== {path.name}: in scope {'/'.join(map(str, tally['in']))}, off-topic declined "
                  f"{'/'.join(map(str, tally['out_of_scope']))}, small talk {'/'.join(map(str, tally['small_talk']))}")
    if args.dump:
        Path(args.dump).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        print(f"{len(result)} lines, {sum(v['ok'] for v in result.values())} right -> {args.dump}")
    if args.compare:
        before = json.loads(Path(args.compare).read_text(encoding="utf-8"))
        print("\n".join(compare(before, result, hidden=hidden)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default=str(REPO / "knowledge" / "entries"))
    parser.add_argument("--sets", default=",".join(FAQ_SETS), help="comma-separated files in tests/fixtures/eval")
    parser.add_argument("--probes", default=str(REPO / "tests" / "fixtures" / "faq_probes.jsonl"),
                        help="own paraphrase probes with entry ids (empty string to skip)")
    parser.add_argument("--seeds", default=str(REPO / "programs" / "documents"))
    parser.add_argument("--verbose", "-v", action="store_true", help="print features of misses")
    parser.add_argument("--dump", help="write every line's outcome to this JSON file")
    parser.add_argument("--compare", help="a JSON file of an earlier --dump: print the lines that changed")
    parser.add_argument("--extra", default="",
                        help="comma-separated set files outside the repository (alone: measured, nothing else)")
    parser.add_argument("--totals", action="store_true", help="for --extra sets, totals only (never their lines)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    kb = KnowledgeBase.load(args.entries, args.seeds)
    if args.dump or args.compare or args.extra:
        return _dump_and_compare(kb, args)
    build_s = time.perf_counter() - t0
    report = kb.report
    print(report.summary() + f"; loaded in {build_s:.2f}s")
    if not report.ok:
        print(f"  ({len(report.errors)} KB errors; invalid entries skipped; run the loader for details)")
    for name in filter(None, args.sets.split(",")):
        path = EVAL_DIR / name
        if not path.exists():
            print(f"== {name}: not there (skipped)")
            continue
        report_set(name, evaluate(kb, read_jsonl(path)), verbose=args.verbose)
    if args.probes and Path(args.probes).exists():
        pr = evaluate_probes(kb, read_jsonl(args.probes))
        print(f"== {Path(args.probes).name} (entry ids)")
        print(f"  in-scope (right entry) : {_pct(pr['correct'], pr['in_scope'])}")
        print(f"  top-3                  : {_pct(pr['top3'], pr['in_scope'])}")
        print(f"  out-of-scope rejected  : {_pct(pr['rejected'], pr['oos'])}")
        for m in pr["misses"]:
            print(f"  miss {m['id']} | {m['q']} | {m['got']} [{m['band']} {m['score']}] | want {m['expected']} | top {m['top']}")
        for m in pr["false_accepts"]:
            print(f"  answered out-of-scope {m['id']} | {m['q']} | {m['got']} {m['score']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
