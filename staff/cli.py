"""``flask --app bot roles …``: who may log visits (advisor) and run the programme (staff), by name.

``roles invite staff --name 王小明`` is how a new deployment gets its first staff member: it prints
a single-use code that the person sends to the official account as 「綁定 CODE」, so nobody has to
find a LINE user id."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import select

from bot.cli import emit, json_option
from bot.models import RoleGrant
from bot.services import audit, grant_role
from bot.timeutil import format_roc_datetime
from staff import service

roles_cli = AppGroup("roles", help="Who may log visits (advisor) and run the programme (staff), by name.")
name_option = click.option("--name", default=None, help="how the team sees this person (dashboard, 「/指派」)")


def _database():
    return current_app.extensions["bot"].database


@roles_cli.command("invite")
@click.argument("role", type=click.Choice(service.ROLES))
@click.option("--name", required=True, help="how the team will see this person, e.g. 王小明")
@json_option
def roles_invite(role: str, name: str, as_json: bool) -> None:
    """Print a single-use invite code (24 h) that the person sends in chat as 「綁定 CODE」."""
    name = name.strip()
    if not name:
        raise click.BadParameter("a name is needed", param_hint="--name")
    with _database().write_session() as session:
        code, invite = service.create_invite(session, actor="cli", role=role, name=name)
        expires = invite.expires_at
    hours = int(service.INVITE_VALID.total_seconds() // 3600)
    emit(as_json, {"role": role, "name": name, "code": code, "expires_at": expires.isoformat(),
                   "send_in_chat": f"綁定 {code}"},
         f"Invite for {name} ({role}), single use, valid {hours} h (until {format_roc_datetime(expires)} Taipei):\n"
         f"  {code}\n"
         f"{name} adds the LINE official account as a friend and sends it this message:\n"
         f"  綁定 {code}")


@roles_cli.command("grant")
@click.argument("line_user_id")
@click.argument("role", type=click.Choice(service.ROLES))
@name_option
@json_option
def roles_grant(line_user_id: str, role: str, name: str | None, as_json: bool) -> None:
    """Grant a role to a known LINE user id (`roles invite` needs no id)."""
    with _database().write_session() as session:
        changed = grant_role(session, line_user_id=line_user_id, role=role, granted_by="cli")
        if name and name.strip():
            service.set_team_name(session, line_user_id=line_user_id, name=name.strip())
        shown = service.display_name(session, line_user_id=line_user_id)
    who = f"{shown} ({line_user_id})" if shown else line_user_id
    summary = f"{who} is {role}." if changed else f"{who} was already {role}."
    if not shown:
        summary += " No name yet: add --name so the team sees who this is."
    emit(as_json, {"granted": role, "line_user_id": line_user_id, "name": shown, "changed": changed}, summary)


@roles_cli.command("revoke")
@click.argument("line_user_id")
@click.argument("role", type=click.Choice(service.ROLES))
@json_option
def roles_revoke(line_user_id: str, role: str, as_json: bool) -> None:
    with _database().write_session() as session:
        grants = session.exec(select(RoleGrant).where(RoleGrant.line_user_id == line_user_id,
                                                      RoleGrant.role == role)).all()
        for grant in grants:
            session.delete(grant)
        if grants:
            audit(session, actor="cli", action="role_revoked", target=line_user_id, role=role)
        shown = service.display_name(session, line_user_id=line_user_id) or line_user_id
    emit(as_json, {"revoked": role, "line_user_id": line_user_id, "changed": bool(grants)},
         f"{shown} is no longer {role}." if grants else f"{shown} did not have {role}.")


@roles_cli.command("list")
@json_option
def roles_list(as_json: bool) -> None:
    with _database().session() as session:
        grants = session.exec(select(RoleGrant).order_by(RoleGrant.role, RoleGrant.granted_at)).all()
        names = service.display_names(session, [g.line_user_id for g in grants])
        rows = [{"name": names.get(g.line_user_id), "role": g.role, "line_user_id": g.line_user_id,
                 "granted_at": g.granted_at.isoformat()} for g in grants]
    lines = [f"{r['role']:8} {r['name'] or '(no name)':12} {r['line_user_id']}" for r in rows] or ["No roles granted."]
    emit(as_json, {"roles": rows}, "\n".join(lines))
