"""Custom KPIs (自訂績效指標, 002 叁: 營運面、客戶面、流程面、行銷面, at least one each): the unit's
promised indicators are campaign data (programs.yaml ``campaign.custom_kpis``); owners give a
baseline once and a figure each month (「回報績效」, or the monthly ask: milestone kind
``kpi_ask``), in words if they like (「大約 3 萬」「兩百多」, dialogs.parsing.parse_amount); advisors
see their companies' trend (「績效趨勢」, /staff/kpis); checkpoint metrics ``custom.<id>`` and the
evidence pack's 自訂績效指標 sheet."""


def init_app(app) -> None:
    from kpis.routes import bp
    from privacy.registry import register_personal_data

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    # The figures are the company's (programme evidence); who typed them is pseudonymised on erasure.
    register_personal_data("kpi_figures", user_columns=("reported_by",), owner_columns=("reported_by",),
                           related_by_company=True, retain_reason="kpis")
