"""Campaign setup (programs.yaml ``campaign:``): `flask --app bot campaign check`, and whether
letters of intent may be signed while the campaign still holds example values."""


def init_app(app) -> None:
    from campaign.cli import campaign_cli

    if "campaign" not in app.cli.commands:
        app.cli.add_command(campaign_cli)
