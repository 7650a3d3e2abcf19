"""Eligibility checks for the SME digitalisation programmes (rules in programs.yaml)."""
from .engine import (ProgramRules, Reason, Verdict, early_verdict, evaluate,  # noqa: F401
                     load_programs, next_needed_field)


def init_app(app) -> None:
    """Hook for bot.create_app: mounts POST /api/eligibility and offers the shared
    "programs" service (loaded once from PROGRAMS_FILE) to flows and other domains."""
    from .routes import bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    runtime = app.extensions.get("bot")
    services = getattr(runtime, "services", None)
    if services is not None:
        path = app.config.get("PROGRAMS_FILE")
        services.providers.setdefault(
            "programs", lambda s: load_programs(path or s.config.get("PROGRAMS_FILE")))
