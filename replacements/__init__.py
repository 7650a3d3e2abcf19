"""抽換: staff replace a recruited company (002 叁 注意事項, ≤ 50 % after acceptance), from chat
(「/抽換」) or the dashboard (/staff/replacements); the successor is asked for its letter."""


def init_app(app) -> None:
    from privacy.registry import register_personal_data
    from replacements.routes import bp

    register_personal_data("company_replacements", user_columns=("replaced_by",), owner_columns=(),
                           related_by_company=True)
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
