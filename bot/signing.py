"""Signed, expiring links (letters to sign, PDFs, privacy exports): one serializer per purpose,
keyed from SECRET_KEY (always set: bot.create_app derives one when none is configured)."""
from __future__ import annotations

import hashlib

from itsdangerous import URLSafeTimedSerializer


def link_serializer(config: dict, namespace: str, purpose: str) -> URLSafeTimedSerializer:
    """``namespace`` keeps one feature's tokens useless to another; ``purpose`` is the salt."""
    secret = config.get("SECRET_KEY") or config.get("LINE_CHANNEL_SECRET")
    if not secret:
        raise RuntimeError(f"{namespace} links need SECRET_KEY or LINE_CHANNEL_SECRET")
    key = hashlib.sha256(f"{namespace}:{secret}".encode()).hexdigest()
    return URLSafeTimedSerializer(key, salt=purpose)
