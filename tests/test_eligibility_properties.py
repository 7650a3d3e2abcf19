"""Properties of the chat helpers over random answers (hypothesis)."""
from hypothesis import given, settings
from hypothesis import strategies as st

from eligibility.engine import early_verdict, evaluate, next_needed_field
from test_eligibility_helpers import gonghao

full_answers = st.fixed_dictionaries({
    "registration": st.sampled_from(["company", "business", "tax_only", "none"]),
    "employees": st.integers(min_value=0, max_value=40),
    "track": st.sampled_from(["popularization", "integration"]),
    "prior_funding": st.lists(st.sampled_from(["cloud_gen", "shop_dx_subsidy", "smea_same_year"]),
                              max_size=3, unique=True),
    "existing_provider_customer": st.booleans(),
    "new_purchase": st.booleans(),
})


@settings(max_examples=150, deadline=None, database=None)
@given(full_answers)
def test_chat_following_next_needed_field_reaches_the_api_verdict(answers):
    """Answer only what next_needed_field asks: the early verdict must equal the
    verdict on the complete answers, and it must come within the field count."""
    program = gonghao()
    final = evaluate(program=program, answers=answers)
    known: dict = {}
    for _ in range(len(program.fields) + 1):
        early = early_verdict(program=program, answers=known)
        if early is not None:
            assert early.verdict == final.verdict
            assert next_needed_field(program=program, answers=known) is None
            return
        field = next_needed_field(program=program, answers=known)
        assert field is not None and field not in known
        known[field] = answers[field]
    raise AssertionError(f"no verdict after asking {sorted(known)}")


@settings(max_examples=100, deadline=None, database=None)
@given(full_answers)
def test_more_prior_funding_never_improves_the_verdict(answers):
    rank = {"eligible": 0, "needs_review": 1, "ineligible": 2}
    before = evaluate(program=gonghao(), answers=answers).verdict
    worse = dict(answers, prior_funding=sorted(set(answers["prior_funding"]) | {"cloud_gen"}))
    assert rank[evaluate(program=gonghao(), answers=worse).verdict] >= rank[before]
    assert evaluate(program=gonghao(), answers=worse).verdict == "ineligible"
