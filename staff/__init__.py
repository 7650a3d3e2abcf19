"""Staff side: roles by invite (「/邀請」「綁定」), dashboard login (「/登入」), company assignment
(「/指派」), and the /staff dashboard."""


def init_app(app) -> None:
    from staff.routes import bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
