"""Operator commands on ``flask --app bot``: init-db and roles (domains add their own)."""
from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlmodel import select

from bot.db import upgrade_schema
from bot.models import RoleGrant
from bot.services import audit

ROLES = ("advisor", "staff")

json_option = click.option("--json", "as_json", is_flag=True, help="print JSON instead of a summary")


def emit(as_json: bool, payload: dict, summary: str) -> None:
    """Print a short human summary, or the payload as JSON with --json."""
    click.echo(json.dumps(payload, ensure_ascii=False, default=str) if as_json else summary)


def runtime():
    return current_app.extensions["bot"]


@click.command("init-db")
@json_option
def init_db_command(as_json: bool) -> None:
    """Create or migrate the schema (safe to repeat)."""
    heads = upgrade_schema(current_app.config["DATABASE_URL"])
    emit(as_json, {"status": "ok", "heads": heads}, f"Database ready ({len(heads)} migration heads at latest).")


roles_cli = AppGroup("roles", help="Who may log visits (advisor) and broadcast (staff).")


@roles_cli.command("grant")
@click.argument("line_user_id")
@click.argument("role", type=click.Choice(ROLES))
@json_option
def roles_grant(line_user_id: str, role: str, as_json: bool) -> None:
    with runtime().database.session() as session:
        existing = session.exec(select(RoleGrant).where(RoleGrant.line_user_id == line_user_id,
                                                        RoleGrant.role == role)).first()
        if existing is None:
            session.add(RoleGrant(line_user_id=line_user_id, role=role, granted_by="cli"))
            audit(session, actor="cli", action="role_granted", target=line_user_id, role=role)
    emit(as_json, {"granted": role, "line_user_id": line_user_id, "changed": existing is None},
         f"{line_user_id} is {role}." if existing is None else f"{line_user_id} was already {role}.")


@roles_cli.command("revoke")
@click.argument("line_user_id")
@click.argument("role", type=click.Choice(ROLES))
@json_option
def roles_revoke(line_user_id: str, role: str, as_json: bool) -> None:
    with runtime().database.session() as session:
        grants = session.exec(select(RoleGrant).where(RoleGrant.line_user_id == line_user_id,
                                                      RoleGrant.role == role)).all()
        for grant in grants:
            session.delete(grant)
        if grants:
            audit(session, actor="cli", action="role_revoked", target=line_user_id, role=role)
    emit(as_json, {"revoked": role, "line_user_id": line_user_id, "changed": bool(grants)},
         f"{line_user_id} is no longer {role}." if grants else f"{line_user_id} did not have {role}.")


@roles_cli.command("list")
@json_option
def roles_list(as_json: bool) -> None:
    with runtime().database.session() as session:
        grants = session.exec(select(RoleGrant).order_by(RoleGrant.role, RoleGrant.line_user_id)).all()
        rows = [{"line_user_id": g.line_user_id, "role": g.role, "granted_at": g.granted_at.isoformat()} for g in grants]
    lines = [f"{r['role']:8} {r['line_user_id']}" for r in rows] or ["No roles granted."]
    emit(as_json, {"roles": rows}, "\n".join(lines))


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(roles_cli)
    from bot.richmenu import richmenu_cli

    app.cli.add_command(richmenu_cli)
