"""After the letter: tool adoption confirmed by the owner, and the monthly usage figure (常態流量)
— the evidence the unit is paid on (002 叁 雲端服務條件 1; 註 6; 捌 四 (三) 3)."""


def init_app(app) -> None:
    from privacy.registry import register_personal_data

    # Programme evidence like visits: kept (pseudonymised) when the person who answered is erased.
    register_personal_data("tool_adoptions", user_columns=("recorded_by", "answered_by"),
                           owner_columns=("answered_by",), related_by_company=True, retain_reason="adoption")
    register_personal_data("usage_reports", user_columns=("reported_by",), owner_columns=("reported_by",),
                           related_by_company=True, retain_reason="adoption")
    register_personal_data("usage_screenshots", owner_columns=(), hidden_columns=("data",))
