"""tools/eval_faq.py --dump/--compare: how a change is checked line by line before it is kept, and
how a set kept unseen is measured (totals) without its lines being shown."""
from __future__ import annotations

import json
from pathlib import Path

from tools import eval_faq

REPO = Path(__file__).resolve().parent.parent


def test_dump_then_compare_shows_what_changed_and_hides_unseen_lines(tmp_path, capsys):
    rows = eval_faq.read_jsonl(REPO / "tests" / "fixtures" / "eval" / "faq_dev.jsonl")[:3]
    unseen = tmp_path / "unseen.jsonl"
    unseen.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:1]), encoding="utf-8")
    dump = tmp_path / "after.json"
    assert eval_faq.main(["--sets", "faq_dev.jsonl", "--dump", str(dump), "--extra", str(unseen), "--totals"]) == 0
    after = json.loads(dump.read_text(encoding="utf-8"))
    assert {"ok", "band", "entry", "score", "q", "kind"} <= set(after[rows[0]["id"]])
    assert "in scope" in capsys.readouterr().out  # the unseen set's totals
    # An earlier dump in which two lines had the other outcome: one shown, one hidden but counted.
    before = {key: dict(value) for key, value in after.items()}
    shown, hidden = rows[1]["id"], rows[0]["id"]
    for key in (shown, hidden):
        before[key]["ok"] = not after[key]["ok"]
    report = eval_faq.compare(before, after, hidden={hidden})
    assert len(report) == 2 and shown in report[0] and hidden not in "".join(report)
    flips = sum(after[key]["ok"] for key in (shown, hidden))
    assert report[-1] == f"gains {flips} losses {2 - flips} (of {len(after)})"


def test_an_unseen_set_alone_is_measured_in_totals(tmp_path, capsys):
    # 「--extra X --totals」 without a dump used to print nothing: the set was silently not measured.
    rows = eval_faq.read_jsonl(REPO / "tests" / "fixtures" / "eval" / "faq_roles_dev.jsonl")
    unseen = tmp_path / "unseen.jsonl"
    unseen.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert eval_faq.main(["--extra", str(unseen), "--totals"]) == 0
    out = capsys.readouterr().out
    counts = {kind: sum((r.get("kind") or "in") == kind for r in rows) for kind in ("in", "out_of_scope", "small_talk")}
    assert "in scope " in out and f"/{counts['in']}, off-topic declined " in out
    assert f"/{counts['out_of_scope']}, small talk " in out and rows[0]["q"] not in out

