"""數位能力評量 前測／後測 (002 捌 四 (七)): the links are campaign data; the bot sends each signed
company's owner the link, takes 「已完成」 or the programme office's list (import by 統編), chases
the missing ones (owner and advisor) and feeds the checkpoints (pretest.completed,
posttest.completed)."""


def init_app(app) -> None:
    from assessments import scheduled
    from assessments.cli import init_cli
    from scheduler.service import register_planner

    register_planner(scheduled.plan)
    init_cli(app)
