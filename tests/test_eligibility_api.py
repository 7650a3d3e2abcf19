"""POST /api/eligibility (CONTRACT) and request validation (schemas.py)."""
from __future__ import annotations

import pytest
from flask import Flask

from eligibility.engine import load_programs
from eligibility.routes import bp
from eligibility.schemas import check_request
from test_eligibility_helpers import PROGRAMS_FILE, cluster_a, cluster_b, programs, roster


@pytest.fixture()
def client():
    app = Flask(__name__)
    app.config.update(TESTING=True, PROGRAMS_FILE=str(PROGRAMS_FILE))
    app.register_blueprint(bp)
    return app.test_client()


def post(client, program, answers):
    return client.post("/api/eligibility", json={"program": program, "answers": answers})


def test_eligible_answer_shape(client):
    res = post(client, "gonghao-2023", {"registration": "company", "employees": 3,
                                        "prior_funding": [], "tax_id": "21556433"})
    assert res.status_code == 200
    assert res.get_json() == {"verdict": "eligible", "reasons": []}


def test_ineligible_reasons_shape(client):
    res = post(client, "gonghao-2023", {"registration": "business", "employees": 15})
    body = res.get_json()
    assert res.status_code == 200 and body["verdict"] == "ineligible"
    (reason,) = body["reasons"]
    assert set(reason) == {"code", "message", "source"}
    assert reason["code"] == "employees_over_limit"


def test_cluster_roster(client):
    res = post(client, "cluster-2022", cluster_a(roster(10)))
    assert res.get_json()["verdict"] == "eligible"
    res = post(client, "cluster-2022", cluster_b(roster(12, originals=8), previous=12))
    assert res.get_json()["reasons"][0]["code"] == "b_replacement_over_30"


def errors_of(res):
    assert res.status_code == 422
    errors = res.get_json()["errors"]
    for e in errors:
        assert set(e) == {"field", "message_zh", "message_en"} and e["message_zh"]
    return {e["field"]: e for e in errors}


@pytest.mark.parametrize("answers, field", [
    ({"registration": "company", "employees": -1}, "answers.employees"),
    ({"registration": "company", "employees": "3"}, "answers.employees"),
    ({"registration": "company", "employees": 2.5}, "answers.employees"),
    ({"registration": "company", "employees": True}, "answers.employees"),
    ({"registration": "llc", "employees": 3}, "answers.registration"),
    ({"registration": "company", "employees": 3, "track": "both"}, "answers.track"),
    ({"registration": "company", "employees": 3, "prior_funding": ["grant"]},
     "answers.prior_funding[0]"),
    ({"registration": "company", "employees": 3, "prior_funding": "cloud_gen"},
     "answers.prior_funding"),
    ({"registration": "company", "employees": 3, "existing_provider_customer": "yes"},
     "answers.existing_provider_customer"),
    ({"registration": "company", "employees": 3, "tax_id": "15322452"}, "answers.tax_id"),
    ({"registration": "company", "employees": 3, "tax_id": "1234-567"}, "answers.tax_id"),
    ({"registration": "company", "employees": 3, "tax_id": 21556433}, "answers.tax_id"),
    ({"employees": 3}, "answers.registration"),
    ({"registration": "company"}, "answers.employees"),
])
def test_gonghao_field_errors(client, answers, field):
    errors = errors_of(post(client, "gonghao-2023", answers))
    assert field in errors


def test_all_errors_reported_at_once(client):
    errors = errors_of(post(client, "gonghao-2023", {"registration": "x", "employees": -5,
                                                     "tax_id": "12345678"}))
    assert {"answers.registration", "answers.employees", "answers.tax_id"} <= set(errors)
    assert "請再核對一次" in errors["answers.tax_id"]["message_zh"]
    assert "負數" in errors["answers.employees"]["message_zh"]


def test_cluster_member_errors(client):
    members = roster(10)
    members[2]["tax_id"] = "15322452"
    members[3]["sme_standard"] = "yes"
    del members[4]["owner"]
    answers = cluster_a(members)
    answers["category"] = "C"
    errors = errors_of(post(client, "cluster-2022", answers))
    assert {"answers.members[2].tax_id", "answers.members[3].sme_standard",
            "answers.members[4].owner", "answers.category"} <= set(errors)


@pytest.mark.parametrize("payload, field", [
    ({"program": "voucher-2099", "answers": {}}, "program"),
    ({"answers": {}}, "program"),
    ({"program": "gonghao-2023"}, "answers"),
    ({"program": "gonghao-2023", "answers": [1, 2]}, "answers"),
    ([1, 2, 3], "body"),
])
def test_request_level_errors(client, payload, field):
    res = client.post("/api/eligibility", json=payload)
    assert field in errors_of(res)


@pytest.mark.parametrize("data, content_type", [
    ("not json", "text/plain"),
    ("{broken", "application/json"),
    ("", "application/json"),
])
def test_non_json_body_is_422(client, data, content_type):
    res = client.post("/api/eligibility", data=data, content_type=content_type)
    assert "body" in errors_of(res)


def test_json_without_content_type_is_accepted(client):
    res = client.post("/api/eligibility", content_type="text/plain",
                      data='{"program":"gonghao-2023","answers":{"registration":"none","employees":1}}')
    assert res.status_code == 200 and res.get_json()["verdict"] == "ineligible"


def test_programs_from_app_extensions_win():
    app = Flask(__name__)
    app.config["PROGRAMS_FILE"] = "/nonexistent.yaml"
    app.extensions["programs"] = load_programs(PROGRAMS_FILE)
    app.register_blueprint(bp)
    res = app.test_client().post("/api/eligibility", json={
        "program": "gonghao-2023", "answers": {"registration": "tax_only", "employees": 0}})
    assert res.get_json()["verdict"] == "eligible"


def test_extra_answer_keys_are_ignored_and_tax_id_normalised():
    checked = check_request(body={"program": "gonghao-2023", "answers": {
        "registration": "company", "employees": 1, "tax_id": "２１５５６４３３", "shop": "x"}},
        programs=programs())
    assert checked.ok
    assert checked.answers == {"registration": "company", "employees": 1, "tax_id": "21556433"}


def test_init_app_hook_registers_once():
    import eligibility

    app = Flask(__name__)
    app.config["PROGRAMS_FILE"] = str(PROGRAMS_FILE)
    eligibility.init_app(app)
    eligibility.init_app(app)  # idempotent
    res = app.test_client().post("/api/eligibility", json={
        "program": "cluster-2022", "answers": cluster_a(roster(9))})
    assert res.get_json()["reasons"][0]["code"] == "cluster_too_small"
