"""The FAQ's app surface: /api/ask contract, `kb check` CLI, live reload (broken file keeps serving)."""
from __future__ import annotations

import json
import shutil
import time

import pytest

from knowledge.service import KnowledgeBase, KnowledgeBaseError
from tests.conftest import REPO, SEEDS

CONTRACT_KEYS = {"matched", "answer", "entry_id", "score", "suggestions", "sources"}


def test_api_ask_contract_shape(app):
    client = app.test_client()
    body = client.get("/api/ask", query_string={"q": "共好的輔導期間到什麼時候"}).get_json()
    assert CONTRACT_KEYS <= set(body)
    assert body["matched"] is True and isinstance(body["entry_id"], str)
    assert isinstance(body["score"], float) and 0.0 <= body["score"] <= 1.0
    assert body["sources"] and all(isinstance(s, str) for s in body["sources"])
    assert all(set(s) >= {"entry_id", "question"} for s in body["suggestions"])

    # 「可以報嗎」 is answered from the campaign's rules: matched, no entry (CONTRACT: str or null).
    rules = client.get("/api/ask", query_string={"q": "我開早餐店 員工十二個 有商業登記 這樣可以參加嗎"}).get_json()
    assert rules["matched"] is True and rules["entry_id"] is None and rules["tier"] == "rules"
    assert "9人（含）以下" in rules["answer"] and "12 人" in rules["answer"] and "3 家" in rules["answer"]
    assert rules["intent"] == "eligibility:general" and rules["sources"]

    off = client.get("/api/ask", query_string={"q": "台北哪裡的牛肉麵好吃"}).get_json()
    assert off["matched"] is False and off["entry_id"] is None and off["answer"]

    for only_stopwords in ("謝謝", "嗎", "？？"):
        body = client.get("/api/ask", query_string={"q": only_stopwords}).get_json()
        assert body["matched"] is False
    assert client.get("/api/ask", query_string={"q": "謝謝"}).get_json()["intent"] == "small_talk:thanks"

    for query in ({}, {"q": "   "}):
        response = client.get("/api/ask", query_string=query)
        assert response.status_code == 400 and response.get_json()["error"] == "missing_q"


def test_api_ask_is_fast(app):
    client = app.test_client()
    client.get("/api/ask", query_string={"q": "暖身"})
    started = time.perf_counter()
    for _ in range(20):
        client.get("/api/ask", query_string={"q": "共好的提案截止是幾點"})
    assert (time.perf_counter() - started) / 20 < 0.05  # generous: includes Flask overhead


def _cli(app, *args, **config):
    saved = {k: app.config[k] for k in config}
    app.config.update(config)
    try:
        return app.test_cli_runner().invoke(args=list(args))
    finally:
        app.config.update(saved)


def test_kb_check_cli_counts_and_errors(app, tmp_path):
    result = _cli(app, "kb", "check")
    assert result.exit_code == 0, result.output
    assert "gonghao-2023" in result.output and "cluster-2022" in result.output
    data = json.loads(_cli(app, "kb", "check", "--json").output)
    assert data["ok"] is True and data["total"] >= 150 and data["counts"]["gonghao-2023"] > 0

    broken = tmp_path / "entries"
    broken.mkdir()
    (broken / "x.yaml").write_text("- id: BAD ID\n  program: gonghao-2023\n  question: 問？\n  answer: 答\n"
                                   "  source: 002 不存在的章節名稱\n", encoding="utf-8")
    result = _cli(app, "kb", "check", KNOWLEDGE_DIR=str(broken))
    assert result.exit_code == 1
    assert "ERROR" in result.output and "不存在的章節名稱" in result.output


@pytest.fixture(scope="module")
def live_kb(tmp_path_factory):
    entries = tmp_path_factory.mktemp("kb") / "entries"
    shutil.copytree(REPO / "knowledge" / "entries", entries)
    kb = KnowledgeBase.load(entries, SEEDS, strict=True)
    return kb


def test_reload_with_broken_file_keeps_serving(live_kb):
    before = live_kb.ask("普及的補助上限是多少")
    assert before.matched
    bad = live_kb.entries_dir / "gonghao-2023" / "zz-broken.yaml"
    bad.write_text("- id: gh-broken\n  program: gonghao-2023\n  question: [unclosed\n", encoding="utf-8")
    try:
        with pytest.raises(KnowledgeBaseError):
            live_kb.reload(strict=True)
        # Automatic path: the change is seen, the reload fails, the old index answers.
        bad.write_text("- id: gh-broken\n  program: nope\n  question: 問？\n  answer: 答\n  source: 002 叁\n",
                       encoding="utf-8")
        assert live_kb.check_for_changes(background=False) is True
        assert live_kb.last_reload_error is not None and not live_kb.last_reload_error.ok
        after = live_kb.ask("普及的補助上限是多少")
        assert after.matched and after.entry_id == before.entry_id
        assert live_kb.check_for_changes(background=False) is False  # no retry until a file changes
    finally:
        bad.unlink()


def test_automatic_reload_picks_up_an_edit(live_kb):
    question = "阿嬤的柑仔店可以用數位券買收銀機嗎"
    assert live_kb.ask(question).entry_id != "vo-what-is-voucher" or not live_kb.ask(question).matched
    path = live_kb.entries_dir / "voucher" / "zz-new.yaml"
    path.write_text(
        "- id: vo-test-live-edit\n  program: voucher\n  question: 柑仔店用數位券買收銀機可以嗎？\n"
        "  alternatives: [阿嬤的柑仔店可以用數位券買收銀機嗎, 收銀機能用數位券嗎, 雜貨店收銀機數位券]\n"
        "  answer: 測試答案\n  source: 004 參 補助機制\n", encoding="utf-8")
    try:
        live_kb.watch(interval=0.0)
        reloads = live_kb.reloads
        live_kb.ask("暖身")  # the watcher notices and rebuilds in the background
        deadline = time.monotonic() + 15
        while live_kb.reloads == reloads and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live_kb.reloads == reloads + 1, live_kb.last_reload_error
        result = live_kb.ask(question)
        assert result.matched and result.entry_id == "vo-test-live-edit"
    finally:
        path.unlink()
        live_kb.reload(strict=True)


def test_kb_reload_cli(app, tmp_path):
    entries = tmp_path / "entries"
    shutil.copytree(REPO / "knowledge" / "entries", entries)
    ok = _cli(app, "kb", "reload", "--json", KNOWLEDGE_DIR=str(entries))
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output.splitlines()[-1])["ok"] is True
    assert (entries / ".reload").exists()  # running bots see the stamp change and swap
    (entries / "voucher" / "broken.yaml").write_text("- id: x\n  program: [\n", encoding="utf-8")
    bad = _cli(app, "kb", "reload", KNOWLEDGE_DIR=str(entries))
    assert bad.exit_code == 1 and "NOT reloaded" in bad.output


def test_faq_answer_cli_pushes_to_asker(app, fake_line):
    from knowledge.models import UnansweredQuestion

    asker = "U" + "4" * 32
    with app.extensions["bot"].database.session() as session:
        row = UnansweredQuestion(line_user_id=asker, question="可以帶寵物去說明會嗎")
        session.add(row)
        session.flush()
        qid = row.id
    result = _cli(app, "faq", "answer", str(qid), "說明會場地不方便帶寵物，敬請見諒。")
    assert result.exit_code == 0, result.output
    assert f"answered #{qid}" in result.output
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any("寵物" in t for t in fake_line.texts_for(asker)):
        app.extensions["bot"].sender.deliver_due()
        time.sleep(0.05)
    assert any("說明會場地不方便帶寵物" in t for t in fake_line.texts_for(asker))
    listed = json.loads(_cli(app, "faq", "list", "--all", "--json").output)
    assert listed["questions"][0]["status"] == "answered"
    missing = _cli(app, "faq", "answer", "99999", "x")
    assert missing.exit_code == 1


def test_odd_inputs_never_answer_confidently(app):
    client = app.test_client()
    for q in ("a", "x", "123", "😀😀", "<script>alert(1)</script>", "x" * 5000, "\u200b"):
        response = client.get("/api/ask", query_string={"q": q})
        assert response.status_code == 200 and response.get_json()["matched"] is False, q
