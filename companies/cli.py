"""Operator commands for join requests, when a company's members cannot decide (the owner is gone):

    flask --app bot companies requests [--status pending|approved|declined|all] [--json]
    flask --app bot companies approve REQUEST_ID
    flask --app bot companies decline REQUEST_ID

Each decision is audited (actor "cli") and the requester is told by push."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from bot.cli import emit, json_option
from companies import service

companies_cli = AppGroup("companies", help="Companies: requests to join a registered company.")


@companies_cli.command("requests")
@click.option("--status", type=click.Choice(["pending", "approved", "declined", "all"]), default="pending",
              show_default=True)
@json_option
def list_requests(status: str, as_json: bool) -> None:
    """Join requests, newest first."""
    with current_app.extensions["bot"].database.session() as session:
        rows = [service.describe_request(session, join)
                for join in service.join_requests(session, status=None if status == "all" else status)]
    lines = [f"{len(rows)} {status} request(s)"]
    lines += [f"  #{r['id']} {r['company_name'] or '—'} ({r['tax_id'] or '—'}) requested by {r['requester_name']} "
              f"[{r['requester']}] at {r['requested_at_roc']}; company members: {r['members']}; {r['status']}"
              for r in rows]
    emit(as_json, {"requests": rows}, "\n".join(lines))


def _decide(request_id: int, approve: bool) -> None:
    runtime = current_app.extensions["bot"]
    try:
        with runtime.database.write_session() as session:
            join = service.decide(session, request_id=request_id, approve=approve, actor="cli", via="cli")
            status = join.status
    except service.JoinDecisionError as error:
        click.echo(f"request {request_id}: {error.reason.replace('_', ' ')}"
                   + (f" ({error.join.status})" if error.join is not None else ""), err=True)
        sys.exit(1)
    runtime.sender.deliver_due(limit=20)
    click.echo(f"request {request_id}: {status}; the requester is told by LINE push")


@companies_cli.command("approve")
@click.argument("request_id", type=click.IntRange(1, 2**31 - 1))
def approve(request_id: int) -> None:
    """Make the requester a member of the company."""
    _decide(request_id, True)


@companies_cli.command("decline")
@click.argument("request_id", type=click.IntRange(1, 2**31 - 1))
def decline(request_id: int) -> None:
    """Decline the request (the same person may ask again after 30 days)."""
    _decide(request_id, False)
