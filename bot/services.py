"""Services handed to handlers: the few shared things a flow may use, created once per app."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlmodel import Session

from bot.db import Database
from bot.models import AuditEntry

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
                    self._lazy[name] = provider(self)
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
