"""Staff side: roles by invite (「/邀請」「綁定」), dashboard login (「/登入」), company assignment
(「/指派」), the /staff dashboard, and `flask --app bot roles …` (by name, with invite codes)."""


def init_app(app) -> None:
    from staff.cli import roles_cli
    from staff.routes import bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    if "roles" not in app.cli.commands:
        app.cli.add_command(roles_cli)
