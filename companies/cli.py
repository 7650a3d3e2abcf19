"""Operator commands for join requests, when a company's members cannot decide (the owner is gone):

    flask --app bot companies requests [--status pending|approved|declined|all] [--json]
    flask --app bot companies approve REQUEST_ID
    flask --app bot companies decline REQUEST_ID
    flask --app bot companies members TAX_ID [--json]
    flask --app bot companies remove-member TAX_ID LINE_USER_ID --reason TEXT

Each decision is audited (actor "cli") and the requester is told by push."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from bot.cli import emit, json_option
from companies import service

companies_cli = AppGroup("companies", help="Companies: requests to join a registered company, members.")


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


def _company(session, tax_id: str):
    company = service.find_by_tax_id(session, tax_id=tax_id.strip())
    if company is None:
        click.echo(f"no company with tax id {tax_id}", err=True)
        sys.exit(1)
    return company


@companies_cli.command("members")
@click.argument("tax_id")
@json_option
def members(tax_id: str, as_json: bool) -> None:
    """The LINE accounts that speak for a company, with their names."""
    with current_app.extensions["bot"].database.session() as session:
        company = _company(session, tax_id)
        rows = [{"line_user_id": uid, "name": service.requester_name(session, uid)}
                for uid in service.members_of(session, company_id=company.id)]
    emit(as_json, {"company_id": company.id, "members": rows},
         "\n".join([f"{company.name or '—'} ({tax_id}): {len(rows)} member(s)"]
                   + [f"  {r['name']} [{r['line_user_id']}]" for r in rows]))


@companies_cli.command("remove-member")
@click.argument("tax_id")
@click.argument("line_user_id")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
def remove_member(tax_id: str, line_user_id: str, reason: str) -> None:
    """Take a membership away (e.g. an account that registered a shop that is not theirs).
    The person and the remaining members are told by LINE push; signed letters stay as records."""
    runtime = current_app.extensions["bot"]
    with runtime.database.write_session() as session:
        company = _company(session, tax_id)
        removed = service.remove_member(session, company_id=company.id, line_user_id=line_user_id.strip(),
                                        actor="cli", reason=reason)
    if not removed:
        click.echo(f"{line_user_id} is not a member of {tax_id}", err=True)
        sys.exit(1)
    runtime.sender.deliver_due(limit=20)
    click.echo(f"{line_user_id} removed from {tax_id}; they and the remaining members are told by LINE push")
