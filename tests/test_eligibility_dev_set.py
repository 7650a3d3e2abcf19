"""The public dev set, end to end through the API: must be 100 %."""
import json
from pathlib import Path

import pytest
from flask import Flask

from eligibility.routes import bp
from test_eligibility_helpers import PROGRAMS_FILE
from tests.conftest import EVAL

DEV_SET = EVAL / "eligibility_dev.jsonl"
CASES = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_dev_set_all_pass():
    app = Flask(__name__)
    app.config.update(TESTING=True, PROGRAMS_FILE=str(PROGRAMS_FILE))
    app.register_blueprint(bp)
    client = app.test_client()
    failures = []
    for case in CASES:
        res = client.post("/api/eligibility",
                          json={"program": case["program"], "answers": case["answers"]})
        if case["verdict"] == "error_422":
            ok = res.status_code == 422
            got = res.status_code
        else:
            got = res.get_json().get("verdict") if res.status_code == 200 else res.status_code
            ok = got == case["verdict"]
        if not ok:
            failures.append((case["id"], case["verdict"], got))
    assert not failures, f"{len(failures)}/{len(CASES)} failed: {failures}"
    assert len(CASES) >= 24
