"""Eligibility checks for the SME digitalisation programmes (rules in programs.yaml)."""
from .engine import (ProgramRules, Reason, Verdict, early_verdict, evaluate,  # noqa: F401
                     load_programs, next_needed_field)


def init_app(app) -> None:
    """Hook for bot.create_app: mounts POST /api/eligibility, the `funding import` CLI, and offers
    the shared "programs" service (loaded once from PROGRAMS_FILE) and the funded-business
    "funding_lookup" (統編 -> register records) to flows, the API and other domains."""
    from .funding import database_lookup, funding_cli
    from .routes import bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    if "funding" not in app.cli.commands:
        app.cli.add_command(funding_cli)
    runtime = app.extensions.get("bot")
    services = getattr(runtime, "services", None)
    if services is not None:
        path = app.config.get("PROGRAMS_FILE")
        services.providers.setdefault(
            "programs", lambda s: load_programs(path or s.config.get("PROGRAMS_FILE")))
        services.providers.setdefault("funding_lookup", lambda s: database_lookup(s.database))
        # Build the programmes now, not on the first chat turn: Services.get builds lazies under
        # one lock, so a first 「我符合資格嗎？」 would otherwise wait for a slow build (the FAQ index).
        services.get("programs")
