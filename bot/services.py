"""Services handed to handlers: the few shared things a flow may use, created once per app."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlmodel import Session, select

from bot.db import Database
from bot.models import AuditEntry, RoleGrant, User

log = logging.getLogger(__name__)


@dataclass
class Services:
    database: Database
    gateway: Any  # bot.gateway.LineGateway
    config: dict
    _lazy: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _locks: dict = field(default_factory=dict)
    # Extension points filled by domains at start-up (see bot.create_app)
    providers: dict[str, Callable[["Services"], Any]] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        """A lazily built shared object (e.g. "programs", "kb"), built once per process. Each name
        has its own lock, so a slow build (the FAQ index) never blocks the others."""
        if name not in self._lazy:
            with self._lock:
                lock = self._locks.setdefault(name, threading.Lock())
            with lock:
                if name not in self._lazy:
                    provider = self.providers.get(name)
                    if provider is None:
                        return None
                    built = provider(self)
                    # A replace() while this was building (a reload, a test's stand-in) wins.
                    self._lazy.setdefault(name, built)
        return self._lazy[name]

    def warm_up(self) -> None:
        """Build every shared object now (in the background at start-up), not on a first message."""
        for name in list(self.providers):
            try:
                self.get(name)
            except Exception:
                log.exception("warm-up failed", extra={"service": name})

    def replace(self, name: str, value: Any) -> None:
        with self._lock:
            self._lazy[name] = value

    @property
    def programs(self):
        return self.get("programs")

    @property
    def kb(self):
        return self.get("kb")

    def public_url(self, path: str) -> str:
        return f"{self.config['PUBLIC_BASE_URL']}/{path.lstrip('/')}"


def audit(session: Session, *, actor: str | None, action: str, target: str | None = None, **detail) -> None:
    """Record who did what. Never put message text or personal data in ``detail``."""
    session.add(AuditEntry(actor=actor, action=action, target=target, detail=detail))


def find_user(session: Session, line_user_id: str | None) -> User | None:
    """The person's record (the ORM object, so changes go through the session), or None."""
    if not line_user_id:
        return None
    return session.exec(select(User).where(User.line_user_id == line_user_id)).first()


# --- roles (declared on commands in dialogs.registry; granted by CLI or staff invites) -------------

def has_role(session: Session, *, line_user_id: str, role: str) -> bool:
    return session.exec(select(RoleGrant.id).where(RoleGrant.line_user_id == line_user_id,
                                                   RoleGrant.role == role)).first() is not None


def grant_role(session: Session, *, line_user_id: str, role: str, granted_by: str) -> bool:
    """Grant once (audited); False when the person already had the role."""
    if has_role(session, line_user_id=line_user_id, role=role):
        return False
    session.add(RoleGrant(line_user_id=line_user_id, role=role, granted_by=granted_by))
    audit(session, actor=granted_by, action="role_granted", target=line_user_id, role=role)
    session.flush()
    return True


def user_ids_with_role(session: Session, role: str) -> list[str]:
    return sorted(set(session.exec(select(RoleGrant.line_user_id).where(RoleGrant.role == role)).all()))
