"""Activities (知能活動, 成果展示; 002 叁 基本工作項目 3–5): created by staff in chat (「/活動」) or on
the dashboard, invitations to a segment with 「報名」/「不克參加」, reminders the day before and an
hour before, check-in by LINE at the venue (「簽到 1234」 or the QR code) as the sign-in sheet,
the sheets as CSV (``flask --app bot export activities``) and in the checkpoint evidence pack."""
import os

# Optional, read from the environment at app creation (not in the CONTRACT's list):
#   LINE_BASIC_ID   the official account's basic id (「@123abcde」): the check-in QR code opens the
#                   chat with 「簽到 1234」 typed (https://line.me/R/oaMessage/…). Without it staff
#                   show the code and people type it.
ENVIRONMENT_SETTINGS = ("LINE_BASIC_ID",)


def init_app(app) -> None:
    from activities.cli import init_cli
    from activities.routes import bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    init_cli(app)
    if not app.config.get("IGNORE_ENVIRONMENT"):
        for name in ENVIRONMENT_SETTINGS:
            if os.environ.get(name) and name not in app.config:
                app.config[name] = os.environ[name]
    app.config.setdefault("LINE_BASIC_ID", None)
    from privacy.registry import register_personal_data

    # The sign-in sheet is programme evidence (002 附件一: 簽到表): on erasure the row stays,
    # counted, with the person's id pseudonymised and the name they gave removed.
    register_personal_data("activity_registrations", user_columns=("line_user_id",),
                           erase_columns=("attendee_name",), related_by_company=True)
    register_personal_data("activities", user_columns=("created_by",), owner_columns=())
