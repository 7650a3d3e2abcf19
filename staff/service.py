"""Team administration: one-time invite codes, one-time dashboard login links, team names.

Codes and tokens are stored as SHA-256 hashes only; using one is a conditional UPDATE, so two
people racing with the same code cannot both win (SQLite and PostgreSQL alike)."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.db import utc_now
from bot.models import RoleGrant, User
from bot.services import audit, grant_role, has_role  # noqa: F401 (roles live in bot)
from staff.models import InviteAttempt, StaffInvite, StaffLoginToken, TeamMember

ROLES = ("advisor", "staff")
INVITE_VALID = timedelta(hours=24)  # issue 7: a code valid 24 h, single use
LOGIN_VALID = timedelta(minutes=10)
MAX_FAILED_REDEMPTIONS = 5  # per LINE user per hour; a code has 32^8 ≈ 10^12 values
REDEMPTION_WINDOW = timedelta(hours=1)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and retyped
CODE_PATTERN = re.compile(r"^[A-Za-z0-9]{4}[-\s]?[A-Za-z0-9]{4}$")


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalize_code(code: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", code.upper())


def looks_like_code(text: str) -> bool:
    return bool(CODE_PATTERN.match(text.strip()))


def create_invite(session: Session, *, actor: str, role: str, name: str | None = None,
                  now: datetime | None = None) -> tuple[str, StaffInvite]:
    if role not in ROLES:
        raise ValueError(role)
    now = now or utc_now()
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    invite = StaffInvite(code_hash=_hash(raw), role=role, name=(name or None) and name[:60], created_by=actor,
                         created_at=now, expires_at=now + INVITE_VALID)
    session.add(invite)
    session.flush()
    audit(session, actor=actor, action="invite_created", target=f"invite:{invite.id}", role=role)
    return f"{raw[:4]}-{raw[4:]}", invite


def redeem_invite(session: Session, *, line_user_id: str, code: str, now: datetime | None = None) -> tuple[str, str | None]:
    """('ok', role) | ('rate_limited'|'invalid'|'expired'|'used', None)."""
    now = now or utc_now()
    failures = session.exec(select(sa.func.count(InviteAttempt.id)).where(
        InviteAttempt.line_user_id == line_user_id, InviteAttempt.ok.is_(False),
        InviteAttempt.at > now - REDEMPTION_WINDOW)).one()
    if failures >= MAX_FAILED_REDEMPTIONS:
        audit(session, actor=line_user_id, action="invite_rate_limited")
        return "rate_limited", None
    invite = session.exec(select(StaffInvite).where(StaffInvite.code_hash == _hash(normalize_code(code)))).first()
    outcome = "ok"
    if invite is None:
        outcome = "invalid"
    elif invite.used_at is not None:
        outcome = "used"
    elif invite.expires_at <= now:
        outcome = "expired"
    else:
        won = session.execute(sa.update(StaffInvite)
                              .where(StaffInvite.id == invite.id, StaffInvite.used_at.is_(None))
                              .values(used_at=now, used_by=line_user_id))
        if won.rowcount != 1:
            outcome = "used"
    session.add(InviteAttempt(line_user_id=line_user_id, at=now, ok=outcome == "ok"))
    if outcome != "ok":
        audit(session, actor=line_user_id, action="invite_failed", reason=outcome)
        return outcome, None
    grant_role(session, line_user_id=line_user_id, role=invite.role, granted_by=f"invite:{invite.id}")
    if invite.name:
        set_team_name(session, line_user_id=line_user_id, name=invite.name)
    audit(session, actor=line_user_id, action="invite_redeemed", target=f"invite:{invite.id}", role=invite.role,
          invited_by=invite.created_by)
    return "ok", invite.role


def set_team_name(session: Session, *, line_user_id: str, name: str) -> None:
    member = session.get(TeamMember, line_user_id) or TeamMember(line_user_id=line_user_id)
    member.display_name = name[:60]
    member.updated_at = utc_now()
    session.add(member)


def team_names(session: Session) -> dict[str, str]:
    """The name to show for every advisor and staff member who has one: the name they were
    invited or granted with, else their LINE display name."""
    uids = set(session.exec(select(RoleGrant.line_user_id)).all())
    return display_names(session, uids) | {m.line_user_id: m.display_name
                                           for m in session.exec(select(TeamMember)).all()}


def display_names(session: Session, line_user_ids) -> dict[str, str]:
    """Names for these people: their team name (invite, `roles grant --name`), else their LINE
    display name (stored after consent or at binding). People with neither are left out."""
    uids = sorted(set(line_user_ids))
    if not uids:
        return {}
    names = {u.line_user_id: u.display_name for u in session.exec(select(User).where(
        User.line_user_id.in_(uids), User.display_name.is_not(None))).all() if u.display_name}
    names.update({m.line_user_id: m.display_name for m in session.exec(select(TeamMember).where(
        TeamMember.line_user_id.in_(uids))).all()})
    return names


def display_name(session: Session, *, line_user_id: str) -> str | None:
    return display_names(session, [line_user_id]).get(line_user_id)


def people_with_role(session: Session, *, role: str) -> list[tuple[str, str]]:
    """(LINE user id, name to show) for everyone holding ``role``, by name."""
    uids = session.exec(select(RoleGrant.line_user_id).where(RoleGrant.role == role)
                        .order_by(RoleGrant.granted_at)).all()
    names = display_names(session, uids)
    return sorted(((uid, names.get(uid) or unnamed(uid)) for uid in uids), key=lambda p: p[1])


def unnamed(line_user_id: str) -> str:
    """A team member nobody named (granted by id without --name, and no LINE name known)."""
    from bot.texts import t

    return t("staff.unnamed_person", short=short_id(line_user_id))


def name_from_profile(services, line_user_id: str) -> None:
    """After 「綁定」 without a name in the invite: the person's LINE display name becomes their
    team name, so 「/指派」 and the dashboard show a name. Runs after the binding committed
    (Request.after_commit): the LINE call never holds the database's write lock."""
    name = ((services.gateway.get_profile(line_user_id) or {}).get("display_name") or "").strip()
    if not name:
        return
    with services.database.session() as session:
        if session.get(TeamMember, line_user_id) is None:
            set_team_name(session, line_user_id=line_user_id, name=name)


def short_id(line_user_id: str | None) -> str:
    return f"…{line_user_id[-6:]}" if line_user_id else "—"


# --- dashboard login links ----------------------------------------------------------------

def create_login_token(session: Session, *, line_user_id: str, now: datetime | None = None) -> str:
    now = now or utc_now()
    token = secrets.token_urlsafe(24)
    session.add(StaffLoginToken(token_hash=_hash(token), line_user_id=line_user_id, created_at=now,
                                expires_at=now + LOGIN_VALID))
    audit(session, actor=line_user_id, action="staff_login_link_created")
    return token


_DASHBOARD_PATH = re.compile(r"/staff/[A-Za-z0-9_\-/.]*")


def is_dashboard_path(path: str) -> bool:
    """A page of the dashboard (「/staff/checkpoints」), the only place a login link may lead."""
    return bool(_DASHBOARD_PATH.fullmatch(path or "")) and ".." not in path and "//" not in path


def login_url(services, session: Session, *, line_user_id: str, next_page: str = "",
              now: datetime | None = None) -> str:
    """A one-time dashboard login link for chat, landing on ``next_page`` (the overview if none);
    ``now`` is the conversation's clock (tests move it)."""
    token = create_login_token(session, line_user_id=line_user_id, now=now)
    query = f"?{urlencode({'next': next_page})}" if next_page else ""
    return services.public_url(f"/staff/login/{token}{query}")


def consume_login_token(session: Session, *, token: str, now: datetime | None = None) -> str | None:
    """The staff member's LINE user id when the link is fresh and unused (it is used up now)."""
    now = now or utc_now()
    row = session.exec(select(StaffLoginToken).where(StaffLoginToken.token_hash == _hash(token))).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    won = session.execute(sa.update(StaffLoginToken)
                          .where(StaffLoginToken.id == row.id, StaffLoginToken.used_at.is_(None))
                          .values(used_at=now))
    if won.rowcount != 1:
        return None
    if not has_role(session, line_user_id=row.line_user_id, role="staff"):
        return None
    audit(session, actor=row.line_user_id, action="staff_login")
    return row.line_user_id


def login_id(session: Session, *, token: str) -> int | None:
    """The used login link's row: it stands for the browser session it opened (staff.auth)."""
    row = session.exec(select(StaffLoginToken).where(StaffLoginToken.token_hash == _hash(token))).first()
    return row.id if row is not None and row.used_at is not None else None


def session_open(session: Session, *, login_id: int, line_user_id: str) -> bool:
    """A dashboard session is open while the login row that started it exists (logout deletes
    it), so a copied cookie is refused once its owner logged out."""
    row = session.get(StaffLoginToken, login_id)
    return row is not None and row.line_user_id == line_user_id and row.used_at is not None


def close_session(session: Session, *, login_id: int, line_user_id: str) -> None:
    row = session.get(StaffLoginToken, login_id)
    if row is not None and row.line_user_id == line_user_id:
        session.delete(row)
        audit(session, actor=line_user_id, action="staff_logout")
