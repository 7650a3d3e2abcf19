"""Links the bot sends about letters: HMAC-signed, expiring tokens (itsdangerous, shipped with Flask).

* draft / sign page: bound to the LINE user and the conversation's session id, so a link works
  only for the conversation that produced it and stops working once that conversation moves on
  (it is one-time by construction: signing moves the conversation past the sign step).
* PDF: bound to a letter version; expires after ``LETTER_LINK_DAYS`` (default 7) days.
"""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.signing import link_serializer

DRAFT = "letter-draft"
SIGN = "letter-sign"
PDF = "letter-pdf"
PAGE_MAX_AGE = 24 * 3600  # a draft/sign link lives as long as a reasonable signing session


def link_days(config: dict) -> int:
    days = config.get("LETTER_LINK_DAYS")
    return 7 if days is None else int(days)


def pdf_max_age(config: dict) -> int:
    """Seconds an owner's PDF link stays valid (LETTER_LINK_SECONDS overrides the days)."""
    seconds = config.get("LETTER_LINK_SECONDS")
    return int(seconds) if seconds is not None else link_days(config) * 86400


def _serializer(config: dict, purpose: str) -> URLSafeTimedSerializer:
    return link_serializer(config, "letters-links", purpose)


def make_token(config: dict, purpose: str, payload: dict) -> str:
    return _serializer(config, purpose).dumps(payload)


def read_token(config: dict, purpose: str, token: str, *, max_age: int) -> dict | None:
    """The payload, or None when the token is forged, for another purpose or expired."""
    try:
        payload = _serializer(config, purpose).loads(token, max_age=max_age)
    except BadSignature:
        return None
    return payload if isinstance(payload, dict) else None


def _public(config: dict, path: str) -> str:
    return f"{config['PUBLIC_BASE_URL'].rstrip('/')}/{path.lstrip('/')}"


def draft_url(config: dict, *, user_id: str, session_id: str | None) -> str:
    return _public(config, f"/letters/draft/{make_token(config, DRAFT, {'u': user_id, 's': session_id})}")


def sign_url(config: dict, *, user_id: str, session_id: str | None) -> str:
    token = make_token(config, SIGN, {"u": user_id, "s": session_id})
    liff_id = config.get("LETTERS_LIFF_ID")
    if liff_id:
        # LIFF appends the path to the LIFF app's endpoint URL (PUBLIC_BASE_URL).
        return f"https://liff.line.me/{liff_id}/letters/sign/{token}"
    return _public(config, f"/letters/sign/{token}")


def pdf_url(config: dict, *, letter_id: int, version_id: int, user_id: str) -> str:
    token = make_token(config, PDF, {"l": letter_id, "v": version_id, "u": user_id})
    return _public(config, f"/letters/pdf/{token}")


def verify_url(config: dict) -> str:
    """The public page that checks a letter PDF (or its SHA-256) against the record."""
    return _public(config, "/letters/verify")
