"""Advisor visits (輔導訪視): booked, reminded, logged, counted against the programme's rules."""
from visits import photos as _photos  # noqa: F401  (own table visit_photos joins the metadata)


def init_app(app) -> None:
    """CLI ``flask --app bot export visits --format csv``; the CSV/photo routes live on /staff."""
    from visits.cli import init_cli

    init_cli(app)
