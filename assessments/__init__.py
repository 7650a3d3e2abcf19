"""數位能力評量 前測／後測 (002 捌 四 (七)): the links are campaign data; the bot sends each signed
company's owner the link, takes 「已完成」 or the programme office's list (import by 統編), chases
the missing ones (owner and advisor) and feeds the checkpoints (pretest.completed,
posttest.completed)."""


def init_app(app) -> None:
    from assessments import scheduled
    from assessments.cli import init_cli
    from scheduler.service import register_planner

    register_planner(scheduled.plan)
    from privacy.registry import register_personal_data

    # A company's record (002 捌 四 (七)); who recorded it is a LINE id, pseudonymised on erasure.
    register_personal_data("capability_test_completions", user_columns=("recorded_by",), owner_columns=(),
                           related_by_company=True)
    init_cli(app)
