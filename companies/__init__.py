"""Recruited businesses: one row per company (by 統一編號), the LINE users who speak for it, and
requests to join it. Eligibility intakes create them; letters, visits, reminders and exports
build on them. Who is a member, and how someone joins: companies/service.py."""


def init_app(app) -> None:
    """Staff pages for join requests (/staff/join-requests), the ``companies`` CLI, and how the
    join requests hold personal data (privacy.registry)."""
    from companies.cli import companies_cli
    from companies.routes import bp
    from privacy.registry import register_personal_data

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    if "companies" not in app.cli.commands:
        app.cli.add_command(companies_cli)
    # The requester's own rows (and answers) are theirs: exported, deleted on erasure; a member's
    # id as the decider becomes a pseudonym like any audit actor.
    register_personal_data("company_join_requests", user_columns=("line_user_id", "decided_by"),
                           owner_columns=("line_user_id",), json_columns=("answers",), delete_rows=True,
                           hidden_columns=("decided_by",))  # the requester's export never names the member
