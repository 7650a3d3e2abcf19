"""Every rule and boundary of gonghao-2023 (seed 002) and cluster-2022 (seed 003)."""
from __future__ import annotations

import copy

import pytest
import yaml

from eligibility.engine import build_program, early_verdict, evaluate, load_programs, next_needed_field
from test_eligibility_helpers import PROGRAMS_FILE, cluster, cluster_a, cluster_b, gonghao, roster


def business(**overrides) -> dict:
    answers = {"registration": "company", "employees": 3, "track": "popularization",
               "prior_funding": []}
    answers.update(overrides)
    return answers


def verdict_of(program, answers):
    v = evaluate(program=program, answers=answers)
    return v.verdict, v.codes


# --- gonghao-2023 ---------------------------------------------------------------

@pytest.mark.parametrize("track, employees, expected, code", [
    # 002 貳一: 經常性僱用員工 9人(含)以下
    ("popularization", 0, "eligible", None),
    ("popularization", 9, "eligible", None),
    ("popularization", 10, "ineligible", "employees_over_limit"),
    ("popularization", 30, "ineligible", "employees_over_limit"),
    # 002 叁 共融: 9 人以上中小企業 每案至多 3 家, 經審查 -> needs review
    ("integration", 0, "eligible", None),
    ("integration", 9, "eligible", None),
    ("integration", 10, "needs_review", "employees_over_9_integration_review"),
    ("integration", 200, "needs_review", "employees_over_9_integration_review"),
])
def test_employee_limit_per_track(track, employees, expected, code):
    verdict, codes = verdict_of(gonghao(), business(track=track, employees=employees))
    assert verdict == expected
    assert codes == ([code] if code else [])


def test_track_defaults_to_popularization():
    answers = business(employees=10)
    del answers["track"]
    assert verdict_of(gonghao(), answers) == ("ineligible", ["employees_over_limit"])


@pytest.mark.parametrize("registration, expected", [
    ("company", "eligible"), ("business", "eligible"), ("tax_only", "eligible"),
    ("none", "ineligible"),
])
def test_every_registration_type(registration, expected):
    verdict, codes = verdict_of(gonghao(), business(registration=registration))
    assert verdict == expected
    assert codes == ([] if expected == "eligible" else ["no_registration"])


@pytest.mark.parametrize("registration, expected", [
    ("company", "needs_review"), ("business", "needs_review"), ("tax_only", "ineligible"),
])
def test_integration_exception_needs_a_registered_sme(registration, expected):
    verdict, codes = verdict_of(gonghao(), business(registration=registration, employees=12,
                                                    track="integration"))
    assert verdict == expected
    if expected == "ineligible":
        assert codes == ["integration_over_9_not_registered_sme"]


@pytest.mark.parametrize("key, code", [
    ("cloud_gen", "prior_funding_cloud_gen"),
    ("shop_dx_subsidy", "prior_funding_shop_dx_subsidy"),
    ("smea_same_year", "other_smea_this_year"),
])
def test_each_prior_funding_key_is_disqualifying(key, code):
    verdict, codes = verdict_of(gonghao(), business(prior_funding=[key]))
    assert (verdict, codes) == ("ineligible", [code])


def test_all_prior_funding_reasons_are_listed():
    verdict, codes = verdict_of(gonghao(), business(
        prior_funding=["cloud_gen", "shop_dx_subsidy", "smea_same_year"]))
    assert verdict == "ineligible"
    assert set(codes) == {"prior_funding_cloud_gen", "prior_funding_shop_dx_subsidy",
                          "other_smea_this_year"}


def test_cloud_gen_rule_lists_note_4_agencies():
    rule = next(r for r in gonghao().rules if r.kind == "forbidden_any")
    agencies = rule.spec["items"]["cloud_gen"]["agencies"]
    for agency in ("數位發展部", "行政院農業委員會", "原住民族委員會", "客家委員會",
                   "經濟部工業局", "經濟部商業司"):
        assert agency in agencies


@pytest.mark.parametrize("existing, new, expected", [
    (True, True, "eligible"),
    (True, False, "ineligible"),
    (False, True, "eligible"),
    (False, False, "eligible"),
    (None, None, "eligible"),      # not a customer unless said so (CONTRACT: optional)
    (True, None, "needs_review"),  # a customer, but nobody said whether it is new
])
def test_existing_customer_times_new_purchase(existing, new, expected):
    answers = business()
    if existing is not None:
        answers["existing_provider_customer"] = existing
    if new is not None:
        answers["new_purchase"] = new
    verdict, codes = verdict_of(gonghao(), answers)
    assert verdict == expected
    if expected == "ineligible":
        assert codes == ["existing_customer_not_new_purchase"]


def test_hard_ineligibility_outranks_needs_review():
    verdict, codes = verdict_of(gonghao(), business(track="integration", employees=11,
                                                    prior_funding=["cloud_gen"]))
    assert verdict == "ineligible"
    assert codes == ["prior_funding_cloud_gen"]


def test_reasons_carry_zh_message_and_source():
    v = evaluate(program=gonghao(), answers=business(employees=15))
    (reason,) = v.reasons
    assert "15" in reason.message and "9" in reason.message
    assert reason.source.startswith("002")
    assert v.to_dict() == {"verdict": "ineligible", "reasons": [
        {"code": reason.code, "message": reason.message, "source": reason.source}]}


# --- chat support: ask only what matters, stop early ------------------------------

@pytest.mark.parametrize("answers, needed, verdict", [
    ({}, "registration", None),
    ({"registration": "none"}, None, "ineligible"),
    ({"registration": "company"}, "employees", None),
    ({"registration": "company", "employees": 30}, "track", None),
    ({"registration": "company", "employees": 30, "track": "popularization"}, None, "ineligible"),
    ({"registration": "company", "employees": 30, "track": "integration"}, "prior_funding", None),
    ({"registration": "company", "employees": 3}, "prior_funding", None),  # track irrelevant
    ({"registration": "company", "employees": 3, "prior_funding": ["cloud_gen"]}, None, "ineligible"),
    ({"registration": "company", "employees": 3, "prior_funding": []},
     "existing_provider_customer", None),
    ({"registration": "company", "employees": 3, "prior_funding": [],
      "existing_provider_customer": True}, "new_purchase", None),
    ({"registration": "company", "employees": 3, "prior_funding": [],
      "existing_provider_customer": False}, None, "eligible"),
    ({"registration": "company", "employees": 3, "prior_funding": [],
      "existing_provider_customer": True, "new_purchase": False}, None, "ineligible"),
    ({"registration": "tax_only", "employees": 12, "track": "integration"}, None, "ineligible"),
])
def test_conversation_asks_only_what_the_verdict_needs(answers, needed, verdict):
    assert next_needed_field(program=gonghao(), answers=answers) == needed
    early = early_verdict(program=gonghao(), answers=answers)
    assert (early.verdict if early else None) == verdict


def test_needs_review_is_final_once_only_review_outcomes_remain():
    # 共融 with 12 staff: still needs prior funding (could become ineligible)…
    partial = {"registration": "company", "employees": 12, "track": "integration"}
    assert early_verdict(program=gonghao(), answers=partial) is None
    done = dict(partial, prior_funding=[], existing_provider_customer=False)
    assert early_verdict(program=gonghao(), answers=done).verdict == "needs_review"


def test_assume_defaults_lets_the_chat_skip_the_track_question():
    answers = {"registration": "company", "employees": 30}
    v = early_verdict(program=gonghao(), answers=answers, assume_defaults=True)
    assert v.verdict == "ineligible"


# --- cluster-2022 A 類 ---------------------------------------------------------

@pytest.mark.parametrize("n, expected", [(9, "ineligible"), (10, "eligible"), (11, "eligible")])
def test_a_needs_at_least_10(n, expected):
    verdict, codes = verdict_of(cluster(), cluster_a(roster(n)))
    assert verdict == expected
    assert codes == ([] if expected == "eligible" else ["cluster_too_small"])


@pytest.mark.parametrize("n, small, expected", [
    (10, 3, "eligible"),    # 70 % exactly: 不得低於 70%
    (10, 4, "ineligible"),  # 60 %
    (20, 6, "eligible"),    # 70 %
    (20, 7, "ineligible"),  # 65 %
    (19, 6, "ineligible"),  # 68.4 %
    (17, 5, "eligible"),    # 70.6 %
])
def test_a_sme_share_at_least_70(n, small, expected):
    verdict, codes = verdict_of(cluster(), cluster_a(roster(n, small=small)))
    assert verdict == expected
    assert codes == ([] if expected == "eligible" else ["sme_share_below_70"])


@pytest.mark.parametrize("n, coached, expected", [
    (10, 2, "eligible"),    # 20 % exactly: 不得超過 20%(含)
    (10, 3, "ineligible"),  # 30 %
    (15, 3, "eligible"),    # 20 %
    (14, 3, "ineligible"),  # 21.4 %
    (11, 2, "eligible"),    # 18.2 %
    (10, 0, "eligible"),
])
def test_a_coached_last_year_at_most_20(n, coached, expected):
    verdict, codes = verdict_of(cluster(), cluster_a(roster(n, coached_last_year=coached)))
    assert verdict == expected
    assert codes == ([] if expected == "eligible" else ["coached_last_year_over_20"])


def test_a_other_members_must_be_free_of_cluster_coaching_for_3_years():
    members = roster(10)
    members[4]["coached_within_3y"] = True  # coached 2 years ago, not last year
    verdict, codes = verdict_of(cluster(), cluster_a(members))
    assert (verdict, codes) == ("ineligible", ["member_coached_within_3y"])
    assert "店家4" in evaluate(program=cluster(), answers=cluster_a(members)).reasons[0].message


def test_same_owner_is_rejected_and_counted_once():
    members = roster(11)
    members[10]["owner"] = " 負責人0 "  # same person, stray spaces
    verdict, codes = verdict_of(cluster(), cluster_a(members))
    assert (verdict, codes) == ("ineligible", ["same_owner_twice"])  # 10 distinct: count ok
    members = roster(10)
    members[9]["owner"] = "負責人0"
    verdict, codes = verdict_of(cluster(), cluster_a(members))
    assert verdict == "ineligible"
    assert set(codes) == {"same_owner_twice", "cluster_too_small"}  # 9 distinct owners


def test_same_business_listed_twice():
    members = roster(11)
    members[10]["tax_id"] = members[0]["tax_id"]
    verdict, codes = verdict_of(cluster(), cluster_a(members))
    assert (verdict, codes) == ("ineligible", ["duplicate_member"])


@pytest.mark.parametrize("category", ["A", "B"])
def test_member_coached_by_other_smea_programme_this_year(category):
    members = roster(12, originals=12 if category == "B" else 0)
    members[3]["other_smea_this_year"] = True
    answers = cluster_a(members) if category == "A" else cluster_b(members, previous=12)
    assert verdict_of(cluster(), answers) == ("ineligible", ["other_smea_this_year"])


def test_member_must_be_sme_or_small_business():
    members = roster(12)
    members[0].update(sme_standard=False, small_business=False)
    verdict, codes = verdict_of(cluster(), cluster_a(members))
    assert (verdict, codes) == ("ineligible", ["member_not_sme"])


# --- cluster-2022 B 類 ---------------------------------------------------------

def test_b_only_for_clusters_coached_last_year():
    answers = cluster_b(roster(12, originals=12), previous=12, participated=False)
    assert verdict_of(cluster(), answers) == ("ineligible", ["b_not_participated_last_year"])


@pytest.mark.parametrize("n, expected", [(11, "ineligible"), (12, "eligible"), (13, "eligible")])
def test_b_needs_at_least_12(n, expected):
    verdict, codes = verdict_of(cluster(), cluster_b(roster(n, originals=n), previous=n))
    assert verdict == expected
    assert codes == ([] if expected == "eligible" else ["b_cluster_too_small"])


@pytest.mark.parametrize("previous, kept, total, expected", [
    (10, 7, 12, "eligible"),    # 3/10 = 30 % exactly: 不得超過 30%
    (10, 6, 12, "ineligible"),  # 40 %
    (20, 14, 20, "eligible"),   # 30 %
    (20, 13, 20, "ineligible"),  # 35 %
    (13, 9, 12, "ineligible"),  # 4/13 = 30.8 %
    (12, 9, 13, "eligible"),    # 25 %; new members don't count as replacements
    (12, 12, 12, "eligible"),
])
def test_b_replacement_at_most_30(previous, kept, total, expected):
    verdict, codes = verdict_of(cluster(), cluster_b(roster(total, originals=kept),
                                                     previous=previous))
    assert verdict == expected
    assert codes == ([] if expected == "eligible" else ["b_replacement_over_30"])


def test_b_new_members_must_be_free_of_cluster_coaching_for_3_years():
    members = roster(12, originals=10)
    members[11]["coached_within_3y"] = True
    verdict, codes = verdict_of(cluster(), cluster_b(members, previous=12))
    assert (verdict, codes) == ("ineligible", ["b_new_member_coached_within_3y"])


@pytest.mark.parametrize("n, small, expected", [
    (20, 6, "ineligible"),  # 70 % exactly: B 須超過 70%
    (20, 5, "eligible"),    # 75 %
    (12, 4, "ineligible"),  # 66.7 %
    (12, 3, "eligible"),    # 75 %
])
def test_b_sme_share_over_70(n, small, expected):
    verdict, codes = verdict_of(cluster(), cluster_b(roster(n, small=small, originals=n),
                                                     previous=n))
    assert verdict == expected
    assert codes == ([] if expected == "eligible" else ["b_sme_share_not_over_70"])


def test_a_and_b_differ_exactly_at_70_percent():
    a = cluster_a(roster(20, small=6))
    b = cluster_b(roster(20, small=6, originals=20), previous=20)
    assert verdict_of(cluster(), a)[0] == "eligible"
    assert verdict_of(cluster(), b)[0] == "ineligible"


def test_b_roster_inconsistent_with_last_year_needs_review():
    answers = cluster_b(roster(12, originals=12), previous=10)  # 12 originals of 10?
    assert verdict_of(cluster(), answers) == ("needs_review", ["b_roster_inconsistent"])


def test_b_without_last_year_size_needs_review_naming_the_gap():
    answers = cluster_b(roster(12, originals=12), previous=12)
    del answers["previous_roster_size"]
    v = evaluate(program=cluster(), answers=answers)
    assert v.verdict == "needs_review"
    assert "前一年群聚家數" in v.reasons[0].message


def test_b_rules_ignore_original_member_flag_in_category_a():
    members = roster(10, originals=10)  # all flagged original & coached last year
    verdict, codes = verdict_of(cluster(), cluster_a(members))
    assert "b_replacement_over_30" not in codes
    assert "coached_last_year_over_20" in codes


# --- rules are data ---------------------------------------------------------------

def _raw():
    with open(PROGRAMS_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_next_year_limit_is_a_data_change():
    raw = copy.deepcopy(_raw()["programs"]["gonghao-2023"])
    rule = next(r for r in raw["eligibility"]["rules"] if r["code"] == "employees_over_limit")
    rule["max"] = 5
    program = build_program("gonghao-2024", raw)
    assert verdict_of(program, business(employees=6))[0] == "ineligible"
    assert verdict_of(gonghao(), business(employees=6))[0] == "eligible"


def test_every_rule_carries_code_message_source_outcome():
    for program in (gonghao(), cluster()):
        for rule in program.rules:
            assert rule.code and rule.source[:3] in ("002", "003")
            assert rule.possible_outcomes() <= {"ineligible", "needs_review", "info"}
            assert rule.message or rule.spec.get("items")


def test_unknown_rule_kind_fails_at_load(tmp_path):
    raw = _raw()
    raw["programs"]["gonghao-2023"]["eligibility"]["rules"][0]["kind"] = "magic"
    path = tmp_path / "programs.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="unknown rule kind"):
        load_programs(path)


def test_programme_metadata_and_open_structure():
    raw = _raw()
    raw["programs"]["gonghao-2023"]["milestones"] = [{"id": "kickoff"}]
    program = build_program("gonghao-2023", raw["programs"]["gonghao-2023"])
    assert program.name == "112年 推動企業數位共好計畫"
    assert program.year_roc == 112 and program.seed == "002"
    assert program.data["milestones"] == [{"id": "kickoff"}]
    assert cluster().short_name == "數位群聚"
