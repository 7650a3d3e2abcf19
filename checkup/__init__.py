"""數位健檢 (the digital check-up in chat, 「數位健檢」): about ten one-tap questions on what the shop
uses today (003 附件一 第三部分's O/E/S/I items regrouped as 網路曝光、網路接單與付款、店務管理、數據
運用), scored into 004 貳 表1's five digital levels, with the next step from the campaign's tools
(or another programme where it fits better). Kept per company as the baseline, asked again near
the end (milestone kind ``checkup_followup``) and compared for the owner, the advisor and the
evidence pack. Questions, scoring and texts are data: checkup/checkup.yaml."""


def init_app(app) -> None:
    from privacy.registry import register_personal_data

    # A company's result is programme evidence (its 成果); without a company it is the person's own
    # and goes with them.
    register_personal_data("checkup_results", user_columns=("line_user_id",), related_by_company=True,
                           retain_reason="checkup")
