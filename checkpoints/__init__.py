"""Checkpoints (002 附件一 肆 二 計畫查核點): the KPI table counted by metrics any domain registers
(checkpoints.metrics), the digests before each checkpoint (checkpoints.scheduled), the dashboard
page and JSON, and the evidence pack (checkpoints.evidence)."""


def init_app(app) -> None:
    from checkpoints.cli import init_cli
    from checkpoints.metrics import load_providers
    from checkpoints.routes import bp

    load_providers()
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    init_cli(app)
